package whatsapp

// ApplyVersion lets tests set whatsmeow's announced version back.
var ApplyVersion = applyVersion
