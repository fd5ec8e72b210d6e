package telegram

// nsSent is the refs namespace of the sent marks (package delivered):
// "<outbound id>#<part index>" → the Telegram message id, so a retry on
// another replica or after a restart skips the parts Telegram accepted.
const nsSent = "telegram-sent"
