"""The network as the modem sees it: registration, RRC connection, PSM/eDRX timers, coverage.

State rules (one derived state for the timeline, see :meth:`Network.settle`):

* CFUN=1 (or CGATT=1) starts a search (``+CEREG`` stat 2); after the registration delay the
  network accepts: ``+CSCON:1``, ``+CEREG`` stat 1, and it grants PSM/eDRX timers -- the
  requested ones, the network's own (``nw_tau``/``nw_active``/``nw_edrx``) or no PSM at all.
* Traffic keeps RRC connected; the RRC inactivity timer (default 20 s) releases it
  (``+CSCON:0``). NSOSTF flag 0x200 releases ``release_delay`` after the datagram went out,
  0x400 that long after the next downlink datagram.
* After release the UE sits in idle (DRX, or eDRX when granted) for the granted T3324, then
  enters PSM (``+NPSMR:1``). Without granted PSM it stays in idle. An uplink wakes it without a
  new attach (``+NPSMR:0``, ``+CSCON:1``); the periodic TAU timer (T3412) wakes it briefly.
* Downlink reaches the UE when connected at once, in idle after a paging delay, in eDRX at the
  next paging window, and never in PSM (the datagram is dropped, as a real network does).
* Uplinks queue (``MAX_TX_QUEUE``) behind the one on air; a full queue answers CME 159, except
  for exception data (NSOSTF 0x100), which jumps the queue.
* Coverage loss: ``+CEREG`` stat 2 (or 0), RRC dropped, sends fail, then re-registration. A UE
  asleep in PSM meets the hole only when it wakes (an uplink, which is lost, the periodic TAU,
  an attach or a reboot) and searches from then on.
* UART wakes: bytes from the DTE wake a module in PSM (or asleep at CFUN=0): the timeline shows
  ``awake`` (with the waking command as ``cause``) until the exchange is over plus the persona's
  wake hold (:meth:`Network.keep_awake`); the UE stays in PSM for the network (no paging, no
  downlink) unless the command itself sends.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from nbkit.lte import timers  # type: ignore[import-not-found,unused-ignore]

from host_tools.emulator.reactor import Reactor, Timer
from host_tools.emulator.records import Timeline
from host_tools.energy.timing import DEFAULT as TIMING


def edrx_seconds(bits: str) -> float | None:
    """NB-S1 eDRX 4-bit value -> the cycle in seconds as the UE applies it (None: not allowed),
    by the firmware's own 3GPP timer table (nbkit.lte.timers, shared with the device)."""
    ms = timers.decode_edrx_ms(bits)
    return None if ms is None else ms / 1000


#: uplink datagrams the modem queues before it answers "uplink busy" (CME 159)
MAX_TX_QUEUE = 4
#: downlink datagrams held while the UE is being paged
MAX_PAGED = 64
#: T3412 used for periodic TAU when no extended value was granted (54 min, the 3GPP default)
DEFAULT_T3412_S = 3240
#: the paging time window the network grants with eDRX ("0011": 10.24 s for NB-S1, as +CEDRXP
#: and +CEDRXRDP report it)
PTW_S = 10.24
_REGISTERED = (1, 5)


@dataclass
class NetworkConfig:
    """What the (emulated) network does; every time is in virtual seconds.

    Defaults come from the timing model shared with the energy model (host_tools/energy/
    timing.py, every value with its source); ``None`` means "the model's value for the CE level"
    (``reg_delay``: ``attach_s``, ``rrc_setup``: ``rrc_setup_s``).
    """

    reg_delay: float | None = None
    rrc_inactivity: float = TIMING.rrc_inactivity_s
    release_delay: float = TIMING.rai_release_s
    paging_delay: float = TIMING.drx_cycle_s
    rrc_setup: float | None = None
    deny_psm: bool = False
    nw_tau: str | None = None
    nw_active: str | None = None
    nw_edrx: str | None = None
    ce: int = 0
    tac: str = "5F1E"
    ci: str = "0153803F"


def tx_seconds(nbytes: int, ce: int) -> float:
    """Air time of an uplink of ``nbytes`` at coverage level ``ce`` (the shared timing model)."""
    return TIMING.tx_s(nbytes, ce)


@dataclass
class Uplink:
    """One datagram waiting for air time; ``on_sent`` runs when it has been transmitted."""

    nbytes: int
    flag: int
    on_sent: Callable[[], None]


class Network:
    """Registration/RRC/PSM state machine driven by the reactor's virtual timers.

    ``urc(kind, value)`` is called for ``cereg`` (stat), ``cscon`` (0/1), ``npsmr`` (0/1) and
    ``cedrxp`` (granted eDRX); the modem formats them according to its report settings.
    """

    def __init__(
        self,
        reactor: Reactor,
        cfg: NetworkConfig,
        timeline: Timeline,
        urc: Callable[[str, int], None],
    ) -> None:
        self.reactor, self.cfg, self.timeline, self.urc = reactor, cfg, timeline, urc
        self._urcs: list[tuple[str, int]] = []
        self._timers: dict[str, Timer] = {}
        self.ce = cfg.ce
        self.deny_psm = cfg.deny_psm
        # requested by the UE (AT+CPSMS / AT+CEDRXS), survive reboots like NV settings
        self.psm_mode = 0
        self.req_tau = "00111000"
        self.req_active = "00000101"
        self.edrx_mode = 0
        self.req_edrx = "0101"
        self.busy_sends = 0
        self.lost = False
        # a hole that came while the UE slept in PSM (radio off): it is met at the next wake
        self.unmet_loss: int | None = None
        self.dropped_downlink = 0
        self.dropped_uplink = 0
        self.tx_ms = 0
        self.rx_ms = 0
        self._reset_radio()
        self.booting = False

    # -- state --------------------------------------------------------------------------------

    def _reset_radio(self) -> None:
        # a coverage hole is the world, not the modem: it outlives a reboot
        coverage = self._timers.pop("coverage", None)
        for timer in self._timers.values():
            timer.cancel()
        self._timers = {"coverage": coverage} if coverage is not None else {}
        if self.unmet_loss is not None:  # a rebooted UE searches: it meets a hole it slept through
            self.unmet_loss, self.lost = None, True
        self._urcs.clear()
        self.cfun = 0
        self.attach_wanted = False
        self.stat = 0
        self.rrc = False
        self.psm = False
        self.tx_active = False
        self.release_after_reply = False
        self.granted_tau: str | None = None
        self.granted_active: str | None = None
        self.granted_edrx: str | None = None
        self.tx_queue: deque[Uplink] = deque()
        self._paged: list[Callable[[], None]] = []
        self._idle_since = 0.0
        self._connected_since = 0.0
        self._camp_at: float | None = None  # when the searching UE camps on the cell
        self.uart_awake = False
        self._awake_until = float("-inf")

    @property
    def registered(self) -> bool:
        return self.stat in _REGISTERED and not self.lost

    @property
    def camped(self) -> bool:
        """The UE has a cell (AT+CSQ reports its RSSI): registered, or searching in coverage
        for ``camp_s`` of the attach time already (cell found, attach signalling going on)."""
        if self.registered:
            return True
        at = self._camp_at
        return at is not None and not self.lost and self.reactor.now() >= at

    def settle(self, cause: str | None = None) -> None:
        """Write the state the modem is in now to the timeline, then send the URCs raised
        since the last call (every change of state ends with a settle)."""
        if self.booting:
            state = "boot"
        elif self.cfun == 0:
            state = "off"
        elif self.stat == 2 or self.lost:
            state = "search"
        elif not self.registered:
            state = "idle"
        elif self.tx_active:
            state = "tx"
        elif self.rrc:
            state = "connected"
        elif self.psm:
            state = "psm"
        else:
            state = "edrx" if self.granted_edrx else "idle"
        if self.uart_awake and state in ("psm", "off", "edrx"):  # asleep: the UART wakes it
            state = "awake"
        edrx = None
        if state == "edrx" and self.granted_edrx:
            edrx = (edrx_seconds(self.granted_edrx) or 20.48, PTW_S)
        self.timeline.enter(self.reactor.now(), state, self.ce, cause, edrx)
        urcs, self._urcs = self._urcs, []
        for kind, value in urcs:
            self.urc(kind, value)

    def _emit(self, kind: str, value: int) -> None:
        # URCs leave after the timeline record of the state they announce (see settle)
        self._urcs.append((kind, value))

    def _set(self, name: str, delay: float, fn: Callable[[], None]) -> None:
        self._cancel(name)
        self._timers[name] = self.reactor.call_later(delay, fn)

    def _cancel(self, *names: str) -> None:
        for name in names:
            timer = self._timers.pop(name, None)
            if timer is not None:
                timer.cancel()

    def _set_stat(self, stat: int) -> None:
        if stat != self.stat:
            self.stat = stat
            self._emit("cereg", stat)

    def keep_awake(self, until: float, cause: str | None = None) -> None:
        """UART activity: the chip is awake (answering the DTE) until ``until`` at least; a
        module asleep (PSM, CFUN=0, between eDRX paging windows) shows ``awake`` meanwhile
        (``cause`` names the wake)."""
        now = self.reactor.now()
        if until <= now or until <= self._awake_until:
            return
        self._awake_until = until
        self._set("awake", until - now, self._awake_done)
        if not self.uart_awake:
            self.uart_awake = True
            self.settle(cause)

    def _awake_done(self) -> None:
        self._timers.pop("awake", None)
        self.uart_awake = False
        self._awake_until = float("-inf")
        self.settle()

    # -- power and attach ---------------------------------------------------------------------

    def power_cycle(self, booting: bool) -> None:
        """Forget the radio state (reboot); the requested PSM/eDRX settings are kept."""
        self._reset_radio()
        self.booting = booting
        self.settle()

    def boot_done(self, radio_on: bool) -> None:
        self.booting = False
        if radio_on:
            self.set_cfun(1)
        self.settle()

    def set_cfun(self, fun: int) -> None:
        if fun and not self.cfun:
            self.cfun = 1
            self.attach()
        elif not fun and self.cfun:
            self.detach()
            self.cfun = 0
        self.settle()

    def attach(self) -> None:
        """Start a search and registration unless already registered or searching."""
        self.cfun = 1
        self.attach_wanted = True
        self._meet_loss()
        if self.stat in _REGISTERED or "register" in self._timers:
            return
        self._set_stat(2)
        if not self.lost:
            delay = self._reg_delay()
            self._camp_at = self.reactor.now() + min(TIMING.camp_s[self.ce], delay)
            self._set("register", delay, self._registered)
        self.settle()

    def _reg_delay(self) -> float:
        delay = self.cfg.reg_delay
        return TIMING.attach_s[self.ce] if delay is None else delay

    def _setup_delay(self) -> float:
        delay = self.cfg.rrc_setup
        return TIMING.rrc_setup_s[self.ce] if delay is None else delay

    def detach(self) -> None:
        self.attach_wanted = False
        self._camp_at = None
        self._cancel("register", "inactivity", "release", "t3324", "t3412", "tx", "page", "setup")
        self.tx_queue.clear()
        self.tx_active = False
        if self.rrc:
            self._rrc_off()
        self.psm = False
        self._set_stat(0)
        self.granted_active = self.granted_tau = self.granted_edrx = None
        self.settle()

    def _registered(self) -> None:
        self._timers.pop("register", None)
        if self.lost or not self.cfun:
            return
        self.grant()
        self._rrc_on()
        self._set_stat(1)
        if self.granted_edrx:
            self._emit("cedrxp", 1)
        self.settle()

    def grant(self) -> None:
        """Decide the network-granted timers (as sent in Attach/TAU Accept)."""
        if self.psm_mode == 1 and not self.deny_psm:
            active = self.cfg.nw_active or self.req_active
            usable = timers.decode_t3324(active) is not None
            self.granted_active = active if usable else None
            self.granted_tau = (self.cfg.nw_tau or self.req_tau) if usable else None
        else:
            self.granted_active = self.granted_tau = None
        if self.edrx_mode in (1, 2) and edrx_seconds(self.req_edrx) is not None:
            self.granted_edrx = self.cfg.nw_edrx or self.req_edrx
        else:
            self.granted_edrx = None

    def request_changed(self) -> None:
        """New requested PSM/eDRX values: a registered UE sends them in a TAU right away."""
        if not self.registered:
            return
        before = (self.granted_active, self.granted_tau, self.granted_edrx)
        self.grant()
        if (self.granted_active, self.granted_tau, self.granted_edrx) != before:
            self._emit("timers", 1)
        if self.granted_active is None:
            self._cancel("t3324")
        self._uplink_now(Uplink(20, 0x200, lambda: None))
        self.settle()

    # -- RRC and PSM --------------------------------------------------------------------------

    def _rrc_on(self) -> None:
        if self.psm:
            self.psm = False
            self._emit("npsmr", 0)
        self._cancel("t3324", "page")
        if not self.rrc:
            self.rrc = True
            self._connected_since = self.reactor.now()
            self._emit("cscon", 1)
        self._set("inactivity", self.cfg.rrc_inactivity, self.release)

    def _rrc_off(self) -> None:
        self.rrc = False
        self.rx_ms += int((self.reactor.now() - self._connected_since) * 1000)
        self._emit("cscon", 0)

    def release(self) -> None:
        """RRC release: idle, then PSM after the granted T3324 (if any)."""
        self._cancel("inactivity", "release")
        self.release_after_reply = False
        if not self.rrc or self.tx_active:
            return
        self._rrc_off()
        self._idle_since = self.reactor.now()
        if self.granted_active is not None:
            active = timers.decode_t3324(self.granted_active) or 0
            self._set("t3324", active, self._enter_psm)
        tau = timers.decode_t3412(self.granted_tau) if self.granted_tau else None
        self._set("t3412", tau or DEFAULT_T3412_S, self._periodic_tau)
        self.settle()

    def _enter_psm(self) -> None:
        self._timers.pop("t3324", None)
        self.psm = True
        self._emit("npsmr", 1)
        self.settle()

    def _periodic_tau(self) -> None:
        self._timers.pop("t3412", None)
        if self._meet_loss() or not self.registered:
            return
        self.grant()
        self._uplink_now(Uplink(20, 0x200, lambda: None))
        self.settle()

    # -- traffic ------------------------------------------------------------------------------

    def uplink(self, item: Uplink) -> int | None:
        """Queue a datagram for transmission; returns a CME error code when it cannot."""
        if self.psm and self._meet_loss():
            # the UE leaves PSM to send, finds no cell and starts searching: the datagram was
            # accepted (OK) and is lost on the air, as it is with a real module
            self.dropped_uplink += 1
            return None
        if not self.cfun or not self.registered:
            return 30
        if self.busy_sends > 0:
            self.busy_sends -= 1
            return 159
        exception = bool(item.flag & 0x100)
        if len(self.tx_queue) >= MAX_TX_QUEUE and not exception:
            return 159
        self._cancel("release")
        if exception and self.tx_queue:  # exception data goes right after the current one
            self._rrc_on()
            self.tx_queue.insert(1, item)
        else:
            self._uplink_now(item)
        self.settle()
        return None

    def _uplink_now(self, item: Uplink) -> None:
        # from idle or PSM the RRC connection is set up first (random access), then the data
        if not self.rrc:
            setup = self._setup_delay()
            if setup > 0:
                self._set("setup", setup, self._setup_done)
        self._rrc_on()
        self._queue(item)

    def _setup_done(self) -> None:
        self._timers.pop("setup", None)
        if self.tx_queue and not self.tx_active:
            self._next_tx()

    def _queue(self, item: Uplink) -> None:
        self.tx_queue.append(item)
        if not self.tx_active and "setup" not in self._timers:
            self._next_tx()

    def _next_tx(self) -> None:
        item = self.tx_queue[0]
        self.tx_active = True
        self._set("tx", tx_seconds(item.nbytes, self.ce), self._tx_done)
        self.settle()

    def _tx_done(self) -> None:
        self._timers.pop("tx", None)
        item = self.tx_queue.popleft()
        self.tx_active = False
        self.tx_ms += int(tx_seconds(item.nbytes, self.ce) * 1000)
        item.on_sent()
        self._set("inactivity", self.cfg.rrc_inactivity, self.release)
        if item.flag & 0x200:
            self._set("release", self.cfg.release_delay, self.release)
        if item.flag & 0x400:
            self.release_after_reply = True
        if self.tx_queue:
            self._next_tx()
        else:
            self.settle()

    def downlink(self, deliver: Callable[[], None]) -> bool:
        """A datagram for the UE arrived; False when the network cannot deliver it (dropped)."""
        if not self.cfun or not self.registered or self.psm:
            self.dropped_downlink += 1
            return False
        if self.rrc:
            self._deliver(deliver)
            return True
        if len(self._paged) >= MAX_PAGED:
            self.dropped_downlink += 1
            return False
        self._paged.append(deliver)
        if "page" not in self._timers:
            self._set("page", self._paging_wait(), self._page)
        return True

    def _paging_wait(self) -> float:
        if not self.granted_edrx:
            return self.cfg.paging_delay
        cycle = edrx_seconds(self.granted_edrx) or 20.48
        return cycle - ((self.reactor.now() - self._idle_since) % cycle)

    def _page(self) -> None:
        self._timers.pop("page", None)
        paged, self._paged = self._paged, []
        self._rrc_on()
        self.settle()  # connected (and +CSCON:1) before the data indications
        for deliver in paged:
            self._deliver(deliver)

    def _deliver(self, deliver: Callable[[], None]) -> None:
        deliver()
        self._set("inactivity", self.cfg.rrc_inactivity, self.release)
        if self.release_after_reply:
            self.release_after_reply = False
            self._set("release", self.cfg.release_delay, self.release)

    # -- injected conditions ------------------------------------------------------------------

    def coverage_loss(self, duration: float, stat: int = 2) -> None:
        """No cell for ``duration`` s: registration lost, then searched for and regained. A UE
        in PSM has its radio off: it meets the hole only when it wakes (data to send, a periodic
        TAU, a reboot or an attach), and until then stays in PSM and reports itself registered."""
        self._set("coverage", duration, self._coverage_back)
        if self.psm and not self.rrc and not self.lost:
            self.unmet_loss = stat
            return
        self._lose(stat)

    def _lose(self, stat: int) -> None:
        self.lost = True
        self._camp_at = None
        self._cancel("register", "inactivity", "release", "t3324", "t3412", "tx", "page", "setup")
        self.tx_queue.clear()
        self._paged.clear()
        self.tx_active = False
        self.psm = False
        if self.rrc:
            self._rrc_off()
        if self.cfun:
            self._set_stat(stat)
        self.settle()

    def _meet_loss(self) -> bool:
        """The waking UE finds the hole it slept through (True), or there is none."""
        if self.unmet_loss is None:
            return False
        stat, self.unmet_loss = self.unmet_loss, None
        self._lose(stat)
        return True

    def _coverage_back(self) -> None:
        self._timers.pop("coverage", None)
        if self.unmet_loss is not None:  # slept through: the UE never knew
            self.unmet_loss = None
            return
        self.lost = False
        if self.cfun and self.attach_wanted:
            self.stat = 0 if self.stat in _REGISTERED else self.stat
            self.attach()
        self.settle()

    def set_deny_psm(self, deny: bool) -> None:
        """The network stops (or resumes) granting PSM; applied as a new TAU accept."""
        self.deny_psm = deny
        if self.registered:
            before = (self.granted_active, self.granted_tau)
            self.grant()
            if (self.granted_active, self.granted_tau) != before:
                self._emit("timers", 1)
            if self.granted_active is None:
                self._cancel("t3324")
                if self.psm:
                    self.psm = False
                    self._emit("npsmr", 0)
            self.settle()

    def set_ce(self, level: int) -> None:
        self.ce = level
        self.settle()
