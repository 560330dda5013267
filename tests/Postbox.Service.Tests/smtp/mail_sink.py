"""aiosmtpd handler for the service tests: saves each mail as a .eml file in $MAIL_SINK_DIR, or answers the SMTP reply
written on the first line of $MAIL_SINK_DIR/reply (e.g. "451 4.3.0 Try again later") to DATA while that file exists.
An optional second line counts how many times to answer it; the file is removed when the count is used up.
While $MAIL_SINK_DIR/hold exists, a mail is saved (the server has it) but its answer waits until the file is removed:
the window after the end of data in which a client learns nothing. While $MAIL_SINK_DIR/drop exists (its first line a
count, default 1), the server hangs up at the end of data instead of answering, without keeping the mail."""
import asyncio
import os
import uuid


class Handler:
    def __init__(self):
        self.folder = os.environ["MAIL_SINK_DIR"]

    async def handle_DATA(self, server, session, envelope):
        drop_file = os.path.join(self.folder, "drop")
        if os.path.exists(drop_file):
            with open(drop_file) as f:
                text = f.read().strip()
            remaining = (int(text) if text else 1) - 1
            if remaining <= 0:
                os.remove(drop_file)
            else:
                with open(drop_file, "w") as f:
                    f.write(str(remaining))
            server.transport.close()
            return "421 4.3.0 closing (never sent: the connection is closed)"
        reply_file = os.path.join(self.folder, "reply")
        if os.path.exists(reply_file):
            with open(reply_file) as f:
                lines = f.read().split("\n")
            reply = lines[0].strip()
            if len(lines) > 1 and lines[1].strip():
                remaining = int(lines[1]) - 1
                if remaining <= 0:
                    os.remove(reply_file)
                else:
                    with open(reply_file, "w") as f:
                        f.write(reply + "\n" + str(remaining))
            if reply:
                return reply
        name = uuid.uuid4().hex
        temporary = os.path.join(self.folder, name + ".tmp")
        with open(temporary, "wb") as f:
            f.write(envelope.original_content)
        # Renamed once complete, so the tests never read a half-written mail.
        os.rename(temporary, os.path.join(self.folder, name + ".eml"))
        hold_file = os.path.join(self.folder, "hold")
        for _ in range(6000):  # at most 5 min
            if not os.path.exists(hold_file):
                break
            await asyncio.sleep(0.05)
        return "250 Message accepted for delivery"
