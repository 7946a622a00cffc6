"""The gateway's pure rules: an outbound message's states, phones as the station keys them, opt-out words,
the daily limit per phone, and the questions SMS ask and the replies that answer them."""
