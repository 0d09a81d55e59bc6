def test_email_sender_delivers_through_smtp(smtp_double, monkeypatch):
    monkeypatch.setenv("SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SMTP_PORT", str(smtp_double.server_address[1]))
    monkeypatch.setenv("SMTP_STARTTLS", "false")
    monkeypatch.delenv("SMTP_USERNAME", raising=False)
    monkeypatch.setenv("EMAIL_FROM", "crew@example.com")
    monkeypatch.setenv("EMAIL_TO", "you@example.com")
    result = EmailSenderTool().run(subject="Weekly summary", body="All good.")
    assert "you@example.com" in result
    (message,) = smtp_double.messages
    assert "Subject: Weekly summary" in message and "All good." in message
