# One module per 3GPP/modem feature (timers, cereg, psm, edrx, rai, sockets ...), imported on use.
