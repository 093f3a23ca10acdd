# AT engine and chat scripts (modem independent).
