//! What clients were on an earlier day: the consent and identification changes as rows with
//! their day (the feeds carry each change with its time), registration days, and purchases up to
//! a day. The dashboard's "30 days earlier" and its time series are read from here.
use super::bits::Bits;
use super::column::{Column, NONE};
use super::population::Population;
use super::tally;

/// Consent changes: a row per change, with `channel` and `status` words.
pub const CONSENTS: &str = "consent_changes";
/// Identification changes: a row per change, `identified` 0 or 1.
pub const IDENTIFIED: &str = "identified_changes";

/// The one changed field of the trimmed profile event the facts table keeps of a client's first
/// identification (or not): applying it records the history and changes nothing else.
pub const IDENTIFICATION_COPY: &str = "history:identified";

/// The consent states, as the series name them.
pub const CONSENT_STATES: [&str; 3] = ["subscribed", "unsubscribed", "unknown"];
/// The identification states.
pub const IDENTIFIED_STATES: [&str; 2] = ["identified", "unidentified"];

/// Records that `row`'s consent on `channel` became `status` on `day`.
pub fn consent(p: &mut Population, row: u32, channel: &str, status: &str, day: i64) {
    let table = p.table(CONSENTS);
    let r = table.add(row, day);
    table.column("channel", Column::text).put_text(r, channel);
    table.column("status", Column::text).put_text(r, status);
}

/// Records `row`'s identification when it differs from what the client had: on `joined` the
/// first time the client is seen (a migrated client was what it is since it joined), else on `day`.
pub fn identified(p: &mut Population, row: u32, identified: bool, day: i64, joined: Option<i64>) {
    let before = p.clients.get("client.identified").and_then(|c| c.number_at(row as usize));
    if before == Some(i64::from(identified)) {
        return;
    }
    let day = if before.is_none() { joined.unwrap_or(day) } else { day };
    let table = p.table(IDENTIFIED);
    let r = table.add(row, day);
    table.column("identified", Column::number).put_number(r, Some(i64::from(identified)));
}

/// The seen clients in registration order, for counting who had joined by a day.
pub struct Joined {
    /// `(day << 32) | row`, ascending (clients without a day joined at the beginning of time).
    order: Vec<u64>,
}

const EPOCH_SHIFT: i64 = 1 << 30;

impl Joined {
    pub fn new(p: &Population, seen: &Bits) -> Self {
        let days = p.clients.get("client.registered_at").map(Column::numbers).unwrap_or(&[]);
        let keys: Vec<u64> = seen
            .rows()
            .map(|r| {
                let day = days.get(r).copied().filter(|d| *d != NONE).unwrap_or(-EPOCH_SHIFT + 1);
                (((day + EPOCH_SHIFT) as u64) << 32) | r as u64
            })
            .collect();
        Joined { order: by_day(keys) }
    }

    fn day(key: u64) -> i64 {
        (key >> 32) as i64 - EPOCH_SHIFT
    }

    fn row(key: u64) -> usize {
        (key & 0xffff_ffff) as usize
    }

    /// How many had joined by the end of `day`.
    pub fn by(&self, day: i64) -> i64 {
        self.order.partition_point(|k| Self::day(*k) <= day) as i64
    }

    /// How many joined within `from..=to`.
    pub fn between(&self, from: i64, to: i64) -> i64 {
        self.by(to) - self.by(from - 1)
    }
}

/// Keys (day in the high half, row in the low) in order: rows come ascending, so a counting sort
/// by day keeps them in order within a day, in one pass instead of a sort of a million keys.
fn by_day(keys: Vec<u64>) -> Vec<u64> {
    let day = |k: &u64| k >> 32;
    let (Some(lo), Some(hi)) = (keys.iter().map(day).min(), keys.iter().map(day).max()) else { return keys };
    // Clients without a registration day sit far below the others: they go first, apart.
    let undated = (-EPOCH_SHIFT + 1 + EPOCH_SHIFT) as u64;
    let lo_dated = keys.iter().map(day).filter(|d| *d != undated).min().unwrap_or(lo);
    if hi - lo_dated > 1_000_000 {
        let mut keys = keys;
        keys.sort_unstable();
        return keys;
    }
    let slot = |k: &u64| if day(k) == undated { 0 } else { (day(k) - lo_dated) as usize + 1 };
    let mut starts = vec![0usize; (hi - lo_dated) as usize + 3];
    for k in &keys {
        starts[slot(k) + 1] += 1;
    }
    for i in 1..starts.len() {
        starts[i] += starts[i - 1];
    }
    let mut out = vec![0u64; keys.len()];
    for k in keys {
        let s = slot(&k);
        out[starts[s]] = k;
        starts[s] += 1;
    }
    out
}

/// A state that changes over time (a consent, identification): the counts of each state at the end
/// of each of `ends` (ascending), among the seen clients who had joined or changed by then, and
/// every client's state at the last end (`u8::MAX` for one not counted yet).
///
/// `changes` are `(day, row, state)` in day order; `initial(row)` is the state of a client that
/// joined without a change recorded (its current state when it has no change at all).
pub fn states_over_time(
    joined: &Joined,
    seen: &Bits,
    changes: &[(i64, u32, u8)],
    initial: impl Fn(usize) -> u8,
    ends: &[i64],
    states: usize,
) -> (Vec<Vec<i64>>, Vec<u8>) {
    let mut state = vec![u8::MAX; seen.len()];
    let mut counts = vec![0i64; states];
    let mut out = Vec::with_capacity(ends.len());
    let (mut j, mut c) = (0usize, 0usize);
    for &end in ends {
        loop {
            let next_join = joined.order.get(j).map(|k| Joined::day(*k)).filter(|d| *d <= end);
            let next_change = changes.get(c).map(|x| x.0).filter(|d| *d <= end);
            match (next_join, next_change) {
                // A day's joins come before its changes.
                (Some(dj), Some(dc)) if dj <= dc => {}
                (Some(_), None) => {}
                (_, Some(_)) => {
                    let (_, row, to) = changes[c];
                    c += 1;
                    let row = row as usize;
                    if !seen.get(row) {
                        continue;
                    }
                    if let Some(&from) = state.get(row).filter(|s| **s != u8::MAX) {
                        counts[from as usize] -= 1;
                    }
                    state[row] = to;
                    counts[to as usize] += 1;
                    continue;
                }
                (None, None) => break,
            }
            let row = Joined::row(joined.order[j]);
            j += 1;
            if state[row] == u8::MAX {
                let s = initial(row);
                state[row] = s;
                counts[s as usize] += 1;
            }
        }
        out.push(counts.clone());
    }
    (out, state)
}

/// The changes of the consent on `channel` as `(day, row, state)` in day order, with the rows
/// that have any.
pub fn consent_changes(p: &Population, channel: &str) -> (Vec<(i64, u32, u8)>, Bits) {
    let mut changed = Bits::none(p.len());
    let Some(rows) = p.tables.get(CONSENTS) else { return (Vec::new(), changed) };
    let (Some(Column::Text { dict: cd, codes: channels }), Some(Column::Text { dict: sd, codes: statuses })) =
        (rows.columns.get("channel"), rows.columns.get("status"))
    else {
        return (Vec::new(), changed);
    };
    let Some(wanted) = cd.find(channel) else { return (Vec::new(), changed) };
    let state_of: Vec<u8> = (0..sd.len() as u32).map(|code| consent_state(sd.text(code))).collect();
    let mut out = Vec::new();
    for &r in rows.window(i64::MIN / 4, i64::MAX / 4) {
        let r = r as usize;
        if !rows.live.get(r) || channels.get(r) != Some(&wanted) {
            continue;
        }
        let owner = rows.owner[r];
        changed.set(owner as usize, true);
        let status = statuses.get(r).copied().unwrap_or(0) as usize;
        out.push((rows.day[r], owner, state_of.get(status).copied().unwrap_or(2)));
    }
    (out, changed)
}

/// The index in [`CONSENT_STATES`] of a status word.
pub fn consent_state(word: &str) -> u8 {
    match word {
        "subscribed" => 0,
        "unsubscribed" => 1,
        _ => 2,
    }
}

/// The identification changes as `(day, row, state)` (0 identified, 1 not), with the rows that
/// have any.
pub fn identified_changes(p: &Population) -> (Vec<(i64, u32, u8)>, Bits) {
    let mut changed = Bits::none(p.len());
    let Some(rows) = p.tables.get(IDENTIFIED) else { return (Vec::new(), changed) };
    let values = rows.columns.get("identified").map(Column::numbers).unwrap_or(&[]);
    let mut out = Vec::new();
    for &r in rows.window(i64::MIN / 4, i64::MAX / 4) {
        let r = r as usize;
        if !rows.live.get(r) {
            continue;
        }
        let owner = rows.owner[r];
        changed.set(owner as usize, true);
        out.push((rows.day[r], owner, if values.get(r) == Some(&1) { 0 } else { 1 }));
    }
    (out, changed)
}

/// The days of `owner`'s live rows of `rows`, ascending.
pub fn days_of(rows: &super::population::Rows, owner: u32) -> Vec<i64> {
    let mut days: Vec<i64> =
        rows.rows_of(owner).iter().filter(|x| rows.live.get(**x as usize)).map(|x| rows.day[*x as usize]).collect();
    days.sort_unstable();
    days
}

/// Every client's last purchase on or before `day` ([`NONE`] for none): the all-time last purchase
/// when it is not later, else read from the client's own rows.
pub fn last_purchases(p: &Population, day: i64) -> Vec<i64> {
    let mut last = vec![NONE; p.len()];
    let all_last = p.clients.get(tally::LAST).map(Column::numbers).unwrap_or(&[]);
    let Some(rows) = p.tables.get("purchases") else { return last };
    for r in p.live.rows() {
        let known = all_last.get(r).copied().unwrap_or(NONE);
        last[r] = if known == NONE || known <= day {
            known
        } else {
            let mine = rows.rows_of(r as u32).iter().map(|&x| x as usize);
            mine.filter(|&x| rows.live.get(x) && rows.day[x] <= day).map(|x| rows.day[x]).max().unwrap_or(NONE)
        };
    }
    last
}

/// Every client's purchases and spend on or before `day`: the all-time totals when no purchase is
/// later, else summed from the rows up to the day.
pub fn totals_by(p: &Population, day: i64) -> (Vec<i64>, Vec<i64>) {
    let n = p.len();
    let Some(rows) = p.tables.get("purchases") else { return (vec![0; n], vec![0; n]) };
    let latest = rows.window(i64::MIN / 4, i64::MAX / 4).last().map(|r| rows.day[*r as usize]);
    if latest.is_none_or(|l| l <= day) {
        let column = |name: &str| {
            let values = p.clients.get(name).map(Column::numbers).unwrap_or(&[]);
            (0..n).map(|r| values.get(r).copied().filter(|v| *v != NONE).unwrap_or(0)).collect::<Vec<_>>()
        };
        return (column(tally::COUNT), column(tally::SUM));
    }
    let amount = rows.columns.get("amount").map(Column::numbers).unwrap_or(&[]);
    let (mut count, mut sum) = (vec![0i64; n], vec![0i64; n]);
    for &x in rows.window(i64::MIN / 4, day) {
        let x = x as usize;
        if rows.live.get(x) {
            let owner = rows.owner[x] as usize;
            count[owner] += 1;
            sum[owner] = sum[owner].saturating_add(amount.get(x).copied().filter(|v| *v != NONE).unwrap_or(0));
        }
    }
    (count, sum)
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    /// The state of `row` at the end of `end`, the plain way: its join (before that day's changes)
    /// and its changes up to that day, in order.
    fn naive(join: i64, mine: &[(i64, u8)], initial: u8, end: i64) -> u8 {
        let mut events: Vec<(i64, u8, Option<u8>)> = vec![(join, 0, None)];
        events.extend(mine.iter().map(|&(d, s)| (d, 1, Some(s))));
        events.sort_by_key(|e| (e.0, e.1));
        let mut state = u8::MAX;
        for (day, _, change) in events.into_iter().filter(|e| e.0 <= end) {
            let _ = day;
            state = match change {
                Some(s) => s,
                None if state == u8::MAX => initial,
                None => state,
            };
        }
        state
    }

    #[test]
    fn the_sweep_gives_what_each_client_s_own_history_gives_on_every_day() {
        let mut rng = 0x5eed_u64;
        let mut next = |n: u64| {
            rng = rng.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (rng >> 33) % n
        };
        for round in 0..20 {
            let mut p = Population::default();
            let n: u64 = 60;
            let mut joins = Vec::new();
            for i in 0..n {
                let r = p.row(Uuid::from_u128(u128::from(i) + 1)) as usize;
                let join = if next(10) == 0 { None } else { Some(next(40) as i64) };
                if let Some(d) = join {
                    p.column("client.registered_at", Column::number).put_number(r, Some(d));
                }
                joins.push(join.unwrap_or(-EPOCH_SHIFT + 1));
            }
            let mut changes: Vec<(i64, u32, u8)> =
                (0..next(120)).map(|_| (next(50) as i64, next(n) as u32, next(3) as u8)).collect();
            changes.sort_by_key(|c| c.0);
            let mut seen = Bits::from_fn(n as usize, |r| r % 7 != 3);
            seen.grow(p.len());
            let initial = |r: usize| (r % 3) as u8;
            let mut ends: Vec<i64> = (0..1 + next(8)).map(|_| next(60) as i64 - 5).collect();
            ends.sort_unstable();
            ends.dedup();
            let joined = Joined::new(&p, &seen);
            let (counts, state) = states_over_time(&joined, &seen, &changes, initial, &ends, 3);
            for (i, &end) in ends.iter().enumerate() {
                let mut expected = vec![0i64; 3];
                for r in seen.rows() {
                    let mine: Vec<(i64, u8)> =
                        changes.iter().filter(|c| c.1 as usize == r).map(|c| (c.0, c.2)).collect();
                    let s = naive(joins[r], &mine, initial(r), end);
                    if s != u8::MAX {
                        expected[s as usize] += 1;
                    }
                    if i + 1 == ends.len() {
                        assert_eq!(state[r], s, "round {round}, client {r} on day {end}");
                    }
                }
                assert_eq!(counts[i], expected, "round {round}, day {end}");
            }
        }
    }
}
