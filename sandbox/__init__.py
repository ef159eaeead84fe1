"""The sandbox: the real bot against the Telegram and Viber stand-ins, with a web page to play
the residents and the operators (README, "Try it in a browser")."""
