"""An SMTP server that requires authentication, for the service tests: aiosmtpd's Controller with an authenticator that
accepts exactly $SMTP_AUTH_USER / $SMTP_AUTH_PASSWORD (AUTH PLAIN or LOGIN). TLS is not required on loopback
(auth_require_tls=False), so the service must be told --smtp-allow-insecure-auth. Mail is saved by mail_sink.Handler.
Usage: python3 -m auth_server HOST PORT (with $MAIL_SINK_DIR set)."""
import os
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from mail_sink import Handler


class Authenticator:
    def __init__(self, user, password):
        self.user = user.encode()
        self.password = password.encode()

    def __call__(self, server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.login == self.user and auth_data.password == self.password
        # handled=False: aiosmtpd answers "535 5.7.8 Authentication credentials invalid" itself.
        return AuthResult(success=ok, handled=False)


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    controller = Controller(Handler(), hostname=host, port=port,
                            authenticator=Authenticator(os.environ["SMTP_AUTH_USER"], os.environ["SMTP_AUTH_PASSWORD"]),
                            auth_required=True, auth_require_tls=False)
    controller.start()
    print(f"auth SMTP server listening on {host}:{port}", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
