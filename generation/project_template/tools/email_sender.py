class EmailSenderInput(BaseModel):
    """Input schema for EmailSenderTool."""

    subject: str = Field(..., description="Subject line of the email.")
    body: str = Field(..., description="Plain-text body of the email.")
    to: str = Field("", description="Recipient address; empty means EMAIL_TO from .env.")


class EmailSenderTool(BaseTool):
    name: str = "email_sender"
    description: str = (
        "Send an email over SMTP. The server and sender come from .env (SMTP_HOST, SMTP_PORT, "
        "SMTP_USERNAME, SMTP_PASSWORD, EMAIL_FROM); the recipient defaults to EMAIL_TO."
    )
    args_schema: Type[BaseModel] = EmailSenderInput

    def _run(self, subject: str, body: str, to: str = "") -> str:
        host = os.environ.get("SMTP_HOST", "")
        sender = os.environ.get("EMAIL_FROM", "")
        recipient = to or os.environ.get("EMAIL_TO", "")
        if not host or not sender or not recipient:
            return "Email is not configured: set SMTP_HOST, EMAIL_FROM and EMAIL_TO in .env."
        port = int(os.environ.get("SMTP_PORT") or 587)
        message = EmailMessage()
        message["Subject"] = subject
        message["From"] = sender
        message["To"] = recipient
        message.set_content(body)
        smtp_class = smtplib.SMTP_SSL if port == 465 else smtplib.SMTP
        with smtp_class(host, port, timeout=30) as smtp:
            if port != 465 and os.environ.get("SMTP_STARTTLS", "true").lower() != "false":
                smtp.starttls()
            if os.environ.get("SMTP_USERNAME"):
                smtp.login(os.environ["SMTP_USERNAME"], os.environ.get("SMTP_PASSWORD", ""))
            smtp.send_message(message)
        return f"Sent {subject!r} to {recipient}."
