"""Email over SMTP: STARTTLS (default), implicit TLS or plain; a plain-text and an HTML part.

The Message-ID is derived from the alert id, so a mail sent twice (a crash between the
server's 250 and our bookkeeping) threads as one in most clients.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate

from enrich.alerts.channels.base import ChannelResources, DeliveryFailed, DeliveryRejected
from enrich.alerts.notification import Notification
from enrich.alerts.rules.rules_config import ChannelConfig


def email_message(config: ChannelConfig, note: Notification) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = f"{config.subject_prefix} {note.subject}".strip()
    message["From"] = config.from_addr or ""
    message["To"] = ", ".join(config.to)
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = f"<{note.id}@newswatch>"
    message["X-Newswatch-Rule"] = note.rule
    message.set_content(note.text)
    message.add_alternative(f"<html><body>{note.html}</body></html>", subtype="html")
    return message


def tls_context(config: ChannelConfig) -> ssl.SSLContext:
    context = ssl.create_default_context(
        cafile=str(config.ca_file) if config.ca_file else None
    )
    if not config.verify_tls:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class EmailChannel:
    def __init__(self, config: ChannelConfig, resources: ChannelResources) -> None:
        self.config = config
        self._resources = resources

    def send(self, note: Notification) -> None:
        config = self.config
        assert config.host is not None
        password = (
            self._resources.secret(config.password_env, f"email channel {config.name} password")
            if config.password_env
            else None
        )
        message = email_message(config, note)
        try:
            smtp: smtplib.SMTP
            if config.security == "ssl":
                smtp = smtplib.SMTP_SSL(config.host, config.port, timeout=config.timeout_s,
                                        context=tls_context(config))
            else:
                smtp = smtplib.SMTP(config.host, config.port, timeout=config.timeout_s)
            with smtp:
                smtp.ehlo()
                if config.security == "starttls":
                    smtp.starttls(context=tls_context(config))
                    smtp.ehlo()
                if config.username:
                    smtp.login(config.username, password or "")
                smtp.send_message(message)
        except smtplib.SMTPNotSupportedError as exc:
            raise DeliveryRejected(f"SMTP server {config.host}: {exc}") from exc
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryRejected(f"recipients refused: {exc.recipients}") from exc
        except smtplib.SMTPResponseException as exc:
            detail = f"SMTP {exc.smtp_code}: {exc.smtp_error!r}"
            if 500 <= exc.smtp_code < 600:
                raise DeliveryRejected(detail) from exc
            raise DeliveryFailed(detail) from exc
        except ssl.SSLCertVerificationError as exc:
            raise DeliveryRejected(f"TLS certificate of {config.host}: {exc}") from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from exc
