"""The simulation loops, compiled with numba (``cache=True``: compiled once per machine).

Internal to the engine: ``core.run`` allocates every array and calls these. State lives in small
arrays indexed by symbol (``pos_f``/``pos_i``) and by account (``acct``) so a run can be split in
chunks (of symbols when independent, of bars when shared) to report progress.

Per valid bar (finite close) of a symbol, in this order:
1. ``bars held`` of an open position grows by one;
2. at the open: a pending exit sells, then a pending entry buys (shared: all sells of the bar
   before any buy, buys in symbol order, subject to max positions);
3. intraday entries (only in the ``*_intraday`` loops, which read ``entry_px``): a flat symbol
   with an entry on bar t buys at ``entry_px[s, t]`` (shared: in symbol order, subject to max
   positions, with the cash left after the open's fills);
4. intrabar: stop loss / trailing stop (the higher level wins; the open when the bar gaps through
   it, else the level when the low touches it), then take profit (the open when gapping above,
   else the level when the high touches it); the trailing peak then takes the bar's high. A
   position opened intraday on this bar skips the checks (only its peak takes the bar's high);
5. at the close: max holding exit, then the bar's signals (fill="close": exits, then entries
   (shared: in symbol order); fill="next_open": they become pending for the next valid bar). In
   an intraday run the entries were handled in step 3, and an exit on the entry bar is not
   cancelled by that entry: it sells the position bought during the bar by the fill rule;
6. the position is marked to the close.
A day without a bar only carries the last mark: nothing trades and pending orders wait.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# float state per symbol (the lot size and the minimum order value are set once by the caller)
F_ENTRY, F_PEAK, F_LAST, F_LOT, F_MIN_VALUE, NF = 0, 1, 2, 3, 4, 5
# int state per symbol (I_SHARES and T_SHARES count lots: the quantity is lots x pos_f[s, F_LOT])
I_SHARES, I_PENDING, I_HELD, I_TRADE, I_VALID, I_INMKT, NI = 0, 1, 2, 3, 4, 5, 6
# per account
A_CASH, A_PREV_EQ, A_PEAK, A_MAXDD, NA = 0, 1, 2, 3, 4
# trade columns, float
T_ENTRY_PRICE, T_EXIT_PRICE, T_BUY_COMM, T_BUY_SLIP, T_SELL_COMM, T_SELL_SLIP, T_TAX, T_CASH_OUT, T_CASH_IN, NTF = (
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9,
)
# rows after them in the trade buffer, filled once the run is over (``trade_columns``): mark price,
# quantity, commission and slippage of each trade
D_MARK, D_QUANTITY, D_COMMISSION, D_SLIPPAGE, NTD = 0, 1, 2, 3, 4
# trade columns, int
T_SYM, T_ENTRY_BAR, T_EXIT_BAR, T_SHARES, T_HELD, T_REASON, NTI = 0, 1, 2, 3, 4, 5, 6
# parameters
P_COMM, P_SLIP, P_SL, P_TP, P_TS, P_MAXHOLD, P_SIZING, P_SIZE, P_MAXPOS, P_FILL_CLOSE, P_DIVISOR, NP = (
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
)
# counters
C_TRADES, C_OPEN = 0, 1
PENDING_BUY, PENDING_SELL = 1, 2
REASONS = ("signal", "stop_loss", "take_profit", "trailing_stop", "max_holding", "open")
R_SIGNAL, R_STOP, R_TAKE, R_TRAIL, R_MAXHOLD = 0, 1, 2, 3, 4


@njit(cache=True)
def _bar(open_, high, low, close, s, t):
    """(o, h, l, c) of a valid bar; a missing open/high/low falls back on the close/open."""
    c = close[s, t]
    o = open_[s, t]
    if o != o:
        o = c
    h = high[s, t]
    if h != h:
        h = max(o, c)
    lo = low[s, t]
    if lo != lo:
        lo = min(o, c)
    return o, max(h, o, c), min(lo, o, c), c


@njit(cache=True)
def _buy(s, a, t, price, pos_f, pos_i, acct, counters, tf, ti, p):
    """Buy at reference ``price`` (plus slippage) with the sizing budget, in whole lots; no-op below
    one lot or below the symbol's minimum order value (a lot of 1.0 computes exactly as shares)."""
    if counters[C_TRADES] >= tf.shape[1] or not price > 0.0:
        return
    cash = acct[a, A_CASH]
    kind = int(p[P_SIZING])
    budget = cash
    if kind == 1:
        budget = min(cash, acct[a, A_PREV_EQ] / p[P_DIVISOR])
    elif kind == 2:
        budget = min(cash, p[P_SIZE])
    elif kind == 3:
        budget = min(cash, acct[a, A_PREV_EQ] * p[P_SIZE])
    comm = p[P_COMM]
    fill = price * (1.0 + p[P_SLIP])
    lot = pos_f[s, F_LOT]
    q = np.floor(budget / (fill * (1.0 + comm)) / lot)
    value = q * lot * fill
    while q > 0.0 and value + value * comm > budget:  # guard against rounding up past the cash
        q -= 1.0
        value = q * lot * fill
    if q <= 0.0 or value < pos_f[s, F_MIN_VALUE]:
        return
    k = counters[C_TRADES]
    counters[C_TRADES] += 1
    counters[C_OPEN] += 1
    fee = value * comm
    acct[a, A_CASH] = cash - (value + fee)
    ti[T_SYM, k] = s
    ti[T_ENTRY_BAR, k] = t
    ti[T_EXIT_BAR, k] = -1
    ti[T_SHARES, k] = np.int64(q)
    ti[T_HELD, k] = 0
    ti[T_REASON, k] = 5
    tf[T_ENTRY_PRICE, k] = price
    tf[T_EXIT_PRICE, k] = np.nan
    tf[T_BUY_COMM, k] = fee
    tf[T_BUY_SLIP, k] = q * lot * price * p[P_SLIP]
    tf[T_SELL_COMM, k] = 0.0
    tf[T_SELL_SLIP, k] = 0.0
    tf[T_TAX, k] = 0.0
    tf[T_CASH_OUT, k] = value + fee
    tf[T_CASH_IN, k] = np.nan
    pos_i[s, I_SHARES] = np.int64(q)
    pos_i[s, I_HELD] = 0
    pos_i[s, I_TRADE] = k
    pos_f[s, F_ENTRY] = price
    pos_f[s, F_PEAK] = price


@njit(cache=True)
def _sell(s, a, t, price, reason, tax_rate, pos_f, pos_i, acct, counters, tf, ti, p):
    """Sell the whole position at reference ``price`` (minus slippage), paying commission and tax."""
    q = pos_i[s, I_SHARES] * pos_f[s, F_LOT]
    slip = p[P_SLIP]
    value = q * (price * (1.0 - slip))
    fee = value * p[P_COMM]
    tax = value * tax_rate
    cash_in = value - fee - tax
    acct[a, A_CASH] += cash_in
    k = pos_i[s, I_TRADE]
    ti[T_EXIT_BAR, k] = t
    ti[T_HELD, k] = pos_i[s, I_HELD]
    ti[T_REASON, k] = reason
    tf[T_EXIT_PRICE, k] = price
    tf[T_SELL_COMM, k] = fee
    tf[T_SELL_SLIP, k] = q * price * slip
    tf[T_TAX, k] = tax
    tf[T_CASH_IN, k] = cash_in
    pos_i[s, I_SHARES] = 0
    counters[C_OPEN] -= 1


@njit(cache=True)
def _risk_exit(s, a, t, o, h, lo, c, tax_rate, pos_f, pos_i, acct, counters, tf, ti, p):
    """Stops, take profit, trailing peak update and max holding for an open position on bar t."""
    entry = pos_f[s, F_ENTRY]
    stop = -np.inf
    reason = -1
    if p[P_SL] > 0.0:
        stop = entry * (1.0 - p[P_SL])
        reason = R_STOP
    if p[P_TS] > 0.0:
        trail = pos_f[s, F_PEAK] * (1.0 - p[P_TS])
        if trail > stop:
            stop = trail
            reason = R_TRAIL
    if reason >= 0:
        if o <= stop:
            _sell(s, a, t, o, reason, tax_rate, pos_f, pos_i, acct, counters, tf, ti, p)
            return
        if lo <= stop:
            _sell(s, a, t, stop, reason, tax_rate, pos_f, pos_i, acct, counters, tf, ti, p)
            return
    if p[P_TP] > 0.0:
        target = entry * (1.0 + p[P_TP])
        if o >= target:
            _sell(s, a, t, o, R_TAKE, tax_rate, pos_f, pos_i, acct, counters, tf, ti, p)
            return
        if h >= target:
            _sell(s, a, t, target, R_TAKE, tax_rate, pos_f, pos_i, acct, counters, tf, ti, p)
            return
    if h > pos_f[s, F_PEAK]:
        pos_f[s, F_PEAK] = h
    if p[P_MAXHOLD] > 0.0 and pos_i[s, I_HELD] >= p[P_MAXHOLD]:
        _sell(s, a, t, c, R_MAXHOLD, tax_rate, pos_f, pos_i, acct, counters, tf, ti, p)


@njit(cache=True)
def _mark_account(a, equity, acct):
    acct[a, A_PREV_EQ] = equity
    if equity > acct[a, A_PEAK]:
        acct[a, A_PEAK] = equity
    elif equity < acct[a, A_PEAK] * (1.0 + acct[a, A_MAXDD]):  # a deeper drawdown (no division on the hot path)
        acct[a, A_MAXDD] = equity / acct[a, A_PEAK] - 1.0


def _independent_loop(intraday: bool):
    """The independent loop, compiled with or without intraday entries.

    ``intraday`` is a closure variable, a constant to numba: the plain loop is compiled without the
    intraday branches, so it runs exactly as fast as before they existed (numba keys its cache on
    the closure's values, so both versions are cached side by side).
    """

    @njit(cache=True, nogil=True)
    def run(open_, high, low, close, entries, exits, entry_px, tax_table, sym_market, p, s0, s1,
            pos_f, pos_i, acct, counters, tf, ti, cash_out, value_out, open_out,
            write_accounts, acct_cash, acct_value):
        """Symbols ``s0:s1``, each its own account ``a = s``.

        Totals are *added* into the series: ``cash_out[t]`` receives the change of cash on bar t (the
        caller takes the cumulative sum), ``value_out``/``open_out`` the positions held at the close.
        A flat symbol without a pending order or an entry signal takes the fast path (mark only).
        ``entry_px`` is read only when ``intraday`` (else it may be empty).
        """
        n_bars = close.shape[1]
        last = n_bars - 1
        fill_close = p[P_FILL_CLOSE] > 0.0
        risk = p[P_SL] > 0.0 or p[P_TP] > 0.0 or p[P_TS] > 0.0 or p[P_MAXHOLD] > 0.0
        for s in range(s0, s1):
            m = sym_market[s]
            mark = pos_f[s, F_LAST]
            valid = pos_i[s, I_VALID]
            in_market = pos_i[s, I_INMKT]
            lot = pos_f[s, F_LOT]
            for t in range(n_bars):
                c = close[s, t]
                touched = False
                if c == c:
                    valid += 1
                    mark = c
                    # an intraday entry fills during its bar, so one on the last bar still trades
                    # (runs without stops or intraday entries go to run_independent_plain)
                    if (pos_i[s, I_SHARES] > 0 or pos_i[s, I_PENDING] != 0
                            or (entries[s, t] and (t < last or intraday))):
                        touched = True
                        before = acct[s, A_CASH]
                        if pos_i[s, I_SHARES] > 0:
                            pos_i[s, I_HELD] += 1
                        pending = pos_i[s, I_PENDING]
                        if risk:  # the open/high/low are read only when needed
                            o, h, lo, c = _bar(open_, high, low, close, s, t)
                        elif pending != 0:  # a fill needs the open alone: high and low would be two cache misses
                            o = open_[s, t]
                            if o != o:
                                o = c
                        if pending != 0:
                            pos_i[s, I_PENDING] = 0
                            if pending == PENDING_SELL:
                                _sell(s, s, t, o, R_SIGNAL, tax_table[m, t], pos_f, pos_i, acct, counters, tf, ti, p)
                            else:
                                _buy(s, s, t, o, pos_f, pos_i, acct, counters, tf, ti, p)
                        fresh = False
                        if intraday and entries[s, t] and pos_i[s, I_SHARES] == 0:
                            _buy(s, s, t, entry_px[s, t], pos_f, pos_i, acct, counters, tf, ti, p)
                            fresh = pos_i[s, I_SHARES] > 0
                        if risk and pos_i[s, I_SHARES] > 0:
                            if fresh:
                                if h > pos_f[s, F_PEAK]:
                                    pos_f[s, F_PEAK] = h
                            else:
                                _risk_exit(s, s, t, o, h, lo, c, tax_table[m, t], pos_f, pos_i, acct, counters, tf, ti,
                                           p)
                        if intraday:
                            if t < last and exits[s, t] and pos_i[s, I_SHARES] > 0:
                                if fill_close:
                                    _sell(s, s, t, c, R_SIGNAL, tax_table[m, t], pos_f, pos_i, acct, counters, tf, ti,
                                          p)
                                else:
                                    pos_i[s, I_PENDING] = PENDING_SELL
                        elif t < last and entries[s, t] != exits[s, t]:
                            long = pos_i[s, I_SHARES] > 0
                            if fill_close:
                                if exits[s, t] and long:
                                    _sell(s, s, t, c, R_SIGNAL, tax_table[m, t], pos_f, pos_i, acct, counters, tf, ti,
                                          p)
                                elif entries[s, t] and not long:
                                    _buy(s, s, t, c, pos_f, pos_i, acct, counters, tf, ti, p)
                            elif exits[s, t] and long:
                                pos_i[s, I_PENDING] = PENDING_SELL
                            elif entries[s, t] and not long:
                                pos_i[s, I_PENDING] = PENDING_BUY
                        moved = acct[s, A_CASH] - before
                        if moved != 0.0:  # most touched bars only hold: no change of cash to add
                            cash_out[t] += moved
                q = pos_i[s, I_SHARES] * lot
                if q > 0:
                    value = q * mark
                    value_out[t] += value
                    open_out[t] += 1
                    if c == c:
                        in_market += 1
                    _mark_account(s, acct[s, A_CASH] + value, acct)
                elif touched:
                    _mark_account(s, acct[s, A_CASH], acct)
                if write_accounts:
                    acct_cash[s, t] = acct[s, A_CASH]
                    acct_value[s, t] = q * mark if q > 0 else 0.0
            pos_f[s, F_LAST] = mark
            pos_i[s, I_VALID] = valid
            pos_i[s, I_INMKT] = in_market

    return run


@njit(cache=True, nogil=True)
def run_independent_plain(open_, high, low, close, entries, exits, entry_px, tax_table, sym_market, p, s0, s1,
                          pos_f, pos_i, acct, counters, tf, ti, cash_out, value_out, open_out,
                          write_accounts, acct_cash, acct_value):
    """``run_independent`` without stops, take profit, max holding or intraday entries (the caller
    checks): the same operations in the same order, with a symbol's position and account held in
    local variables between its events, so a bar without an event touches no state array.

    Between events a symbol runs one of two tight loops: flat with no order waiting, a bar only counts
    and marks until an entry signal; long with no order waiting, a bar only marks the position (series,
    equity, peak and drawdown) until an exit signal. Every other bar (an order to fill, a signal that
    acts) takes the full step. An entry signal while long, or an exit while flat, changes nothing in
    the full step, so the loops pass over it; an exit on the last bar is dropped, so it does too."""
    n_bars = close.shape[1]
    last = n_bars - 1
    fill_close = p[P_FILL_CLOSE] > 0.0
    # the opens a next-open fill will read, gathered first: scattered over the whole open array, each
    # read inside the loop below would wait for main memory in turn; these independent reads overlap.
    # The columns are listed first (a store at every bar, the count moves on a signal): a conditional
    # copy in one loop compiles to masked stores, which are slow on some CPUs
    opens_ahead = np.empty(n_bars)
    columns = np.empty(n_bars, dtype=np.int64)
    for s in range(s0, s1):
        if not fill_close:
            n_signals = 0
            # eight bars at a time first: a word of one row equal to the other's holds no signal
            words = last // 8
            entry_words = entries[s, :words * 8].view(np.uint64)
            exit_words = exits[s, :words * 8].view(np.uint64)
            for w in range(words):
                if entry_words[w] != exit_words[w]:
                    for t in range(w * 8, w * 8 + 8):
                        columns[n_signals] = t + 1
                        n_signals += entries[s, t] != exits[s, t]
            for t in range(words * 8, last):
                columns[n_signals] = t + 1
                n_signals += entries[s, t] != exits[s, t]
            for j in range(n_signals):
                opens_ahead[j] = open_[s, columns[j]]
        m = sym_market[s]
        close_row = close[s]
        entry_row = entries[s]
        exit_row = exits[s]
        mark = pos_f[s, F_LAST]
        valid = pos_i[s, I_VALID]
        in_market = pos_i[s, I_INMKT]
        lot = pos_f[s, F_LOT]
        shares = pos_i[s, I_SHARES]
        pending = pos_i[s, I_PENDING]
        held = pos_i[s, I_HELD]
        cash = acct[s, A_CASH]
        prev_eq = acct[s, A_PREV_EQ]
        peak = acct[s, A_PEAK]
        max_dd = acct[s, A_MAXDD]
        t = 0
        while t < n_bars:
            if pending == 0:
                if shares > 0:  # long, no order waiting: mark each bar up to an exit signal
                    q = shares * lot
                    while t < n_bars:
                        u = np.uint64(t)  # an unsigned index: no wrap-around of negative indices to compute
                        c = close_row[u]
                        if c == c:
                            if exit_row[u] and not entry_row[u] and t < last:
                                break
                            valid += 1
                            mark = c
                            held += 1
                            in_market += 1
                        value = q * mark
                        value_out[u] += value
                        open_out[u] += 1
                        equity = cash + value
                        prev_eq = equity
                        # _mark_account's choice as selects: a new peak is frequent and hard to
                        # predict, and the division is cheaper than a mispredicted branch
                        up = equity > peak
                        down = (not up) & (equity < peak * (1.0 + max_dd))
                        drawdown = equity / peak - 1.0
                        max_dd = drawdown if down else max_dd
                        peak = equity if up else peak
                        if write_accounts:
                            acct_cash[s, t] = cash
                            acct_value[s, t] = value
                        t += 1
                else:  # flat, no order waiting: only count the bars up to an entry signal
                    while t < n_bars:
                        u = np.uint64(t)
                        c = close_row[u]
                        if c == c:
                            if entry_row[u] and t < last:
                                break
                            valid += 1
                            mark = c
                        if write_accounts:
                            acct_cash[s, t] = cash
                            acct_value[s, t] = 0.0
                        t += 1
                if t == n_bars:
                    break
            # the full step of bar t
            c = close[s, t]
            touched = False
            if c == c:
                valid += 1
                mark = c
                if shares > 0 and pending == 0 and entries[s, t] == exits[s, t]:
                    held += 1  # a bar held without an event
                elif shares > 0 or pending != 0 or (entries[s, t] and t < last):
                    touched = True
                    before = cash
                    if shares > 0:
                        held += 1
                    pos_i[s, I_SHARES] = shares
                    pos_i[s, I_HELD] = held
                    pos_i[s, I_PENDING] = 0
                    acct[s, A_CASH] = cash
                    acct[s, A_PREV_EQ] = prev_eq
                    if pending != 0:
                        o = open_[s, t]
                        if o != o:
                            o = c
                        if pending == PENDING_SELL:
                            _sell(s, s, t, o, R_SIGNAL, tax_table[m, t], pos_f, pos_i, acct, counters, tf, ti, p)
                        else:
                            _buy(s, s, t, o, pos_f, pos_i, acct, counters, tf, ti, p)
                    if t < last and entries[s, t] != exits[s, t]:
                        long = pos_i[s, I_SHARES] > 0
                        if fill_close:
                            if exits[s, t] and long:
                                _sell(s, s, t, c, R_SIGNAL, tax_table[m, t], pos_f, pos_i, acct, counters, tf, ti, p)
                            elif entries[s, t] and not long:
                                _buy(s, s, t, c, pos_f, pos_i, acct, counters, tf, ti, p)
                        elif exits[s, t] and long:
                            pos_i[s, I_PENDING] = PENDING_SELL
                        elif entries[s, t] and not long:
                            pos_i[s, I_PENDING] = PENDING_BUY
                    shares = pos_i[s, I_SHARES]
                    pending = pos_i[s, I_PENDING]
                    held = pos_i[s, I_HELD]
                    cash = acct[s, A_CASH]
                    moved = cash - before
                    if moved != 0.0:
                        cash_out[t] += moved
            equity = cash
            q = shares * lot
            if q > 0:
                value = q * mark
                value_out[t] += value
                open_out[t] += 1
                if c == c:
                    in_market += 1
                equity = cash + value
            if q > 0 or touched:  # _mark_account on locals
                prev_eq = equity
                if equity > peak:
                    peak = equity
                elif equity < peak * (1.0 + max_dd):
                    max_dd = equity / peak - 1.0
            if write_accounts:
                acct_cash[s, t] = cash
                acct_value[s, t] = q * mark if q > 0 else 0.0
            t += 1
        pos_f[s, F_LAST] = mark
        pos_i[s, I_VALID] = valid
        pos_i[s, I_INMKT] = in_market
        pos_i[s, I_SHARES] = shares
        pos_i[s, I_PENDING] = pending
        pos_i[s, I_HELD] = held
        acct[s, A_CASH] = cash
        acct[s, A_PREV_EQ] = prev_eq
        acct[s, A_PEAK] = peak
        acct[s, A_MAXDD] = max_dd


@njit(cache=True, nogil=True)
def move_trades(tf, ti, src, dst, count):
    """Move ``count`` trades (columns) from ``src`` to ``dst <= src``, in place (every copy goes left)."""
    if src == dst:
        return
    for r in range(tf.shape[0]):
        for j in range(count):
            tf[r, dst + j] = tf[r, src + j]
    for r in range(ti.shape[0]):
        for j in range(count):
            ti[r, dst + j] = ti[r, src + j]


@njit(cache=True, nogil=True)
def trade_columns(tf, ti, last_close, lots, out):
    """The derived columns of the trades in one pass, into ``out`` (``NTD`` rows): the mark price (the
    exit price of a closed trade, the symbol's last close for an open one), the quantity (lots x lot
    size), and both sides' commission and slippage."""
    for j in range(ti.shape[1]):
        s = ti[T_SYM, j]
        out[D_MARK, j] = tf[T_EXIT_PRICE, j] if ti[T_EXIT_BAR, j] >= 0 else last_close[s]
        out[D_QUANTITY, j] = ti[T_SHARES, j] * lots[s]
        out[D_COMMISSION, j] = tf[T_BUY_COMM, j] + tf[T_SELL_COMM, j]
        out[D_SLIPPAGE, j] = tf[T_BUY_SLIP, j] + tf[T_SELL_SLIP, j]


run_independent = _independent_loop(False)
run_independent_intraday = _independent_loop(True)


def _shared_loop(intraday: bool):
    """The shared-account loop, compiled with or without intraday entries (see ``_independent_loop``)."""

    @njit(cache=True)
    def run(open_, high, low, close, entries, exits, entry_px, tax_table, sym_market, p, t0, t1,
            pos_f, pos_i, acct, counters, tf, ti, cash_out, value_out, open_out,
            write_accounts, acct_cash, acct_value):
        """Bars ``t0:t1`` of one account ``a = 0`` shared by every symbol."""
        n_sym, n_bars = close.shape
        last = n_bars - 1
        fill_close = p[P_FILL_CLOSE] > 0.0
        risk = p[P_SL] > 0.0 or p[P_TP] > 0.0 or p[P_TS] > 0.0 or p[P_MAXHOLD] > 0.0
        max_pos = p[P_MAXPOS]
        for t in range(t0, t1):
            # the open: bars held, then pending sells of every symbol before any pending buy
            for s in range(n_sym):
                if close[s, t] == close[s, t]:
                    if pos_i[s, I_SHARES] > 0:
                        pos_i[s, I_HELD] += 1
                        if pos_i[s, I_PENDING] == PENDING_SELL:
                            pos_i[s, I_PENDING] = 0
                            o, h, lo, c = _bar(open_, high, low, close, s, t)
                            _sell(s, 0, t, o, R_SIGNAL, tax_table[sym_market[s], t], pos_f, pos_i, acct, counters,
                                  tf, ti, p)
            for s in range(n_sym):
                if close[s, t] == close[s, t] and pos_i[s, I_PENDING] == PENDING_BUY:
                    pos_i[s, I_PENDING] = 0
                    if max_pos <= 0.0 or counters[C_OPEN] < max_pos:
                        o, h, lo, c = _bar(open_, high, low, close, s, t)
                        _buy(s, 0, t, o, pos_f, pos_i, acct, counters, tf, ti, p)
            # intraday entries in symbol order, with the cash and slots left after the open
            if intraday:
                for s in range(n_sym):
                    if entries[s, t] and pos_i[s, I_SHARES] == 0 and close[s, t] == close[s, t]:
                        if max_pos <= 0.0 or counters[C_OPEN] < max_pos:
                            _buy(s, 0, t, entry_px[s, t], pos_f, pos_i, acct, counters, tf, ti, p)
            # intrabar risk rules and max holding at the close (not for a position bought during this bar)
            if risk:
                for s in range(n_sym):
                    if pos_i[s, I_SHARES] > 0 and close[s, t] == close[s, t]:
                        o, h, lo, c = _bar(open_, high, low, close, s, t)
                        if intraday and ti[T_ENTRY_BAR, pos_i[s, I_TRADE]] == t:
                            if h > pos_f[s, F_PEAK]:
                                pos_f[s, F_PEAK] = h
                            continue
                        _risk_exit(s, 0, t, o, h, lo, c, tax_table[sym_market[s], t], pos_f, pos_i, acct, counters,
                                   tf, ti, p)
            # the close: exits of every symbol, then entries in symbol order
            if t < last:
                for s in range(n_sym):
                    if (exits[s, t] and (intraday or not entries[s, t]) and pos_i[s, I_SHARES] > 0
                            and close[s, t] == close[s, t]):
                        if fill_close:
                            _sell(s, 0, t, close[s, t], R_SIGNAL, tax_table[sym_market[s], t], pos_f, pos_i, acct,
                                  counters, tf, ti, p)
                        else:
                            pos_i[s, I_PENDING] = PENDING_SELL
                if not intraday:  # else the entries were bought during the bar
                    for s in range(n_sym):
                        if (entries[s, t] and not exits[s, t] and pos_i[s, I_SHARES] == 0
                                and close[s, t] == close[s, t]):
                            if not fill_close:
                                pos_i[s, I_PENDING] = PENDING_BUY
                            elif max_pos <= 0.0 or counters[C_OPEN] < max_pos:
                                _buy(s, 0, t, close[s, t], pos_f, pos_i, acct, counters, tf, ti, p)
            # the mark
            value = 0.0
            n_open = 0
            for s in range(n_sym):
                if close[s, t] == close[s, t]:
                    pos_f[s, F_LAST] = close[s, t]
                    pos_i[s, I_VALID] += 1
                    if pos_i[s, I_SHARES] > 0:
                        pos_i[s, I_INMKT] += 1
                q = pos_i[s, I_SHARES] * pos_f[s, F_LOT]
                if q > 0:
                    value += q * pos_f[s, F_LAST]
                    n_open += 1
            cash = acct[0, A_CASH]
            _mark_account(0, cash + value, acct)
            cash_out[t] = cash
            value_out[t] = value
            open_out[t] = n_open
            if write_accounts:
                acct_cash[0, t] = cash
                acct_value[0, t] = value

    return run


run_shared = _shared_loop(False)
run_shared_intraday = _shared_loop(True)
