"""Rating reads a survey's answer with the station's one reply parser (`common.replies`, shared with
notify's callback questions); see that module for the rules."""

from common.replies import CODE_ALPHABET, COMMENT_MAX_CHARS, SCAN_MAX_CHARS, Reply, ReplyKind, parse_reply

__all__ = ["CODE_ALPHABET", "COMMENT_MAX_CHARS", "SCAN_MAX_CHARS", "Reply", "ReplyKind", "parse_reply"]
