from harness.cli.main import app

app()
