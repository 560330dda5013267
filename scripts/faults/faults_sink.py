"""aiosmtpd handler for scripts/faults.sh: records every accepted mail as one line "<unix time> <Message-ID>" in
$FAULTS_SINK_LOG, flushed before the 250 answer, so a mail counts as delivered exactly when the server accepted it."""
import os
import re
import time

_MESSAGE_ID = re.compile(rb"^Message-ID:\s*(\S+)", re.IGNORECASE | re.MULTILINE)


class Handler:
    def __init__(self):
        self.log = open(os.environ["FAULTS_SINK_LOG"], "ab", buffering=0)

    async def handle_DATA(self, server, session, envelope):
        content = envelope.original_content or b""
        header_end = content.find(b"\r\n\r\n")
        match = _MESSAGE_ID.search(content[: header_end if header_end >= 0 else len(content)])
        message_id = match.group(1) if match else b"(none)"
        self.log.write(b"%.3f %s\n" % (time.time(), message_id))
        return "250 Message accepted for delivery"
