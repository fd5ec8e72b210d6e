package whatsappcloud

// refsSent is the refs namespace of the sent marks (package delivered):
// with Config.Refs set, "<outbound id>#<part index>" → the wamid, so a
// retry on another replica or after a restart skips the parts Graph
// accepted. Without Config.Refs the marks live only in this process.
const refsSent = "wacloud-sent"
