"""notify's SMS gateway: every outbound SMS of the platform (the `sms.send` command), inbound SMS and receipts."""
