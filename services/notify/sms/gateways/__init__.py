"""The adapters of the `common.sms.SmsGateway` port: the embedded gateway and Kannel."""
