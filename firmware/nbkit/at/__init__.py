# AT engine and chat scripts, modem independent: engine.py routes each line (the running
# command's expected response, final result codes, URCs); chat.py runs dialogs given as data.
