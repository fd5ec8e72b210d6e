package teams

// nsSent is the refs namespace of the sent marks (package delivered):
// "<outbound id>#0" → the activity id Teams gave the message (Teams
// messages are never split), so a retry on another replica or after a
// restart does not post it again.
const nsSent = "teams-sent"
