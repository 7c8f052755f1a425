//! The CRM dashboard's figures (SE-6, SE-7, seed 003): KPIs on a day (and 30 days before it), time
//! series by day, week, month or year, and the distributions of the last selected day. Every
//! figure counts the `seen` clients only (a store-scoped token's), and each is defined in
//! `segment.proto` where the contract names it.
use super::automatic::{Settings, Thresholds};
use super::bits::Bits;
use super::column::{Column, NONE};
use super::evaluate::{date_of, day_number};
use super::history::{self, Joined};
use super::population::Population;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Granularity {
    Day,
    /// Weeks start on Monday.
    Week,
    Month,
    Year,
}

/// The buckets covering `from..=to`: each bucket's first day (a Monday, the 1st of a month, 1
/// January, which may lie before `from`) and the day its figure is read on (its last day, or `to`).
pub fn buckets(from: i64, to: i64, g: Granularity) -> Vec<(i64, i64)> {
    let mut out = Vec::new();
    let mut start = bucket_start(from, g);
    while start <= to {
        let next = next_start(start, g);
        out.push((start, (next - 1).min(to)));
        start = next;
    }
    out
}

fn bucket_start(day: i64, g: Granularity) -> i64 {
    let d = date_of(day);
    match g {
        Granularity::Day => day,
        Granularity::Week => day - i64::from(d.weekday().number_days_from_monday()),
        Granularity::Month => day - i64::from(d.day()) + 1,
        Granularity::Year => day - i64::from(d.ordinal()) + 1,
    }
}

fn next_start(start: i64, g: Granularity) -> i64 {
    let d = date_of(start);
    match g {
        Granularity::Day => start + 1,
        Granularity::Week => start + 7,
        Granularity::Month => {
            let (y, m) = if d.month() == time::Month::December {
                (d.year() + 1, 1)
            } else {
                (d.year(), u8::from(d.month()) + 1)
            };
            first_of(y, m)
        }
        Granularity::Year => first_of(d.year() + 1, 1),
    }
}

fn first_of(year: i32, month: u8) -> i64 {
    time::Month::try_from(month)
        .ok()
        .and_then(|m| time::Date::from_calendar_date(year, m, 1).ok())
        .map_or(i64::MAX / 4, day_number)
}

/// A series of a chart: a point per bucket (with its first day) or per category (with a label).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Series {
    pub name: String,
    pub points: Vec<Point>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Point {
    pub day: Option<i64>,
    pub label: String,
    pub value: i64,
}

/// The KPIs of one day.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Kpis {
    pub total: i64,
    pub active: i64,
    pub vip: i64,
    pub sleeping: i64,
    pub new: i64,
    /// Subscribed, unsubscribed, unknown.
    pub email: [i64; 3],
    pub sms: [i64; 3],
}

/// The genders the by-gender chart shows, in order.
pub const GENDERS: [&str; 5] = ["female", "male", "other", "unknown", "refused"];

/// A channel's consent changes `(day, row, state)` in day order, and the rows that have any.
type Changes = (Vec<(i64, u32, u8)>, Bits);

/// What every figure of one answer shares: the clients seen, in registration order, and what
/// several figures read (each client's last purchase by a day, the consent changes), read once.
pub struct Board<'a> {
    pub p: &'a Population,
    pub seen: &'a Bits,
    pub settings: &'a Settings,
    pub thresholds: Thresholds,
    joined: Joined,
    last: Shelf<i64, Vec<i64>>,
    changes: Shelf<&'static str, Changes>,
    sweeps: Shelf<&'static str, Sweep>,
    spent: Shelf<i64, Spenders>,
}

/// What one answer read once and shares between its figures, which may be drawn on two threads.
/// A value is computed outside the lock; two threads asking at once may both compute it.
struct Shelf<K, V>(Mutex<HashMap<K, Arc<V>>>);

impl<K: std::hash::Hash + Eq, V> Default for Shelf<K, V> {
    fn default() -> Self {
        Shelf(Mutex::default())
    }
}

impl<K: std::hash::Hash + Eq, V> Shelf<K, V> {
    fn get(&self, key: &K) -> Option<Arc<V>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).get(key).cloned()
    }

    fn put(&self, key: K, value: V) -> Arc<V> {
        let value = Arc::new(value);
        self.0.lock().unwrap_or_else(PoisonError::into_inner).insert(key, value.clone());
        value
    }

    fn get_or(&self, key: K, read: impl FnOnce() -> V) -> Arc<V> {
        match self.get(&key) {
            Some(known) => known,
            None => self.put(key, read()),
        }
    }
}

/// Spenders by value and by frequency.
type Spenders = (Vec<Series>, Vec<Series>);

/// A channel's consent swept over some days: the days, the counts on each, everyone's state on
/// the last.
type Sweep = (Vec<i64>, Vec<Vec<i64>>, Vec<u8>);

impl<'a> Board<'a> {
    pub fn new(p: &'a Population, seen: &'a Bits, settings: &'a Settings, thresholds: Thresholds) -> Self {
        let joined = Joined::new(p, seen);
        let (last, changes, sweeps, spent) = (Shelf::default(), Shelf::default(), Shelf::default(), Shelf::default());
        Board { p, seen, settings, thresholds, joined, last, changes, sweeps, spent }
    }

    /// Every client's last purchase on or before `day`, read once per answer.
    fn last_purchases(&self, day: i64) -> Arc<Vec<i64>> {
        self.last.get_or(day, || history::last_purchases(self.p, day))
    }

    fn consent_changes(&self, channel: &'static str) -> Arc<Changes> {
        self.changes.get_or(channel, || history::consent_changes(self.p, channel))
    }

    /// The KPIs on `day`; `vip_on(day)` counts the seen VIPs with `day` as today.
    pub fn kpis(&self, day: i64, vip_on: &dyn Fn(i64) -> i64) -> Kpis {
        self.kpis_on(&[day], vip_on)[0]
    }

    /// The KPIs on each of `days` (ascending), the consents swept once for all of them.
    pub fn kpis_on(&self, days: &[i64], vip_on: &dyn Fn(i64) -> i64) -> Vec<Kpis> {
        let s = self.settings;
        let (email, _) = self.consents("email", days);
        let (sms, _) = self.consents("sms", days);
        days.iter()
            .enumerate()
            .map(|(i, &day)| {
                let last = self.last_purchases(day);
                let (mut active, mut sleeping) = (0, 0);
                for r in self.seen.rows() {
                    let l = last[r];
                    if l == NONE {
                        continue;
                    }
                    active += i64::from(day - l < s.active_days);
                    sleeping += i64::from(day - l >= s.sleeping_days);
                }
                Kpis {
                    total: self.joined.by(day),
                    active,
                    vip: vip_on(day),
                    sleeping,
                    new: self.joined.between(day - s.new_days + 1, day),
                    email: [email[i][0], email[i][1], email[i][2]],
                    sms: [sms[i][0], sms[i][1], sms[i][2]],
                }
            })
            .collect()
    }

    /// Counts of subscribed, unsubscribed, unknown at each of `ends`, and everyone's state at the
    /// last one.
    fn consents(&self, channel: &str, ends: &[i64]) -> (Vec<Vec<i64>>, Vec<u8>) {
        let (channel, fact) = match channel {
            "email" => ("email", "consent.email"),
            _ => ("sms", "consent.sms"),
        };
        // Every end this answer needs was swept at once (see `prepare`): read the ones asked.
        if let Some(swept) = self.sweeps.get(&channel)
            && ends.last() == swept.0.last()
            && ends.iter().all(|e| swept.0.binary_search(e).is_ok())
        {
            let counts =
                ends.iter().filter_map(|e| swept.0.binary_search(e).ok().map(|i| swept.1[i].clone())).collect();
            return (counts, swept.2.clone());
        }
        let read = self.consent_changes(channel);
        let (changes, changed) = (&read.0, &read.1);
        let current = self.p.clients.get(fact);
        // A client without a recorded change holds the consent it has now since it joined.
        let initial = |r: usize| {
            if changed.get(r) { 2 } else { current.map_or(2, |c| history::consent_state(c.text_at(r))) }
        };
        history::states_over_time(&self.joined, self.seen, changes, initial, ends, 3)
    }

    /// Sweeps `channel`'s consents once for every day in `ends` (the KPI days, the buckets' ends,
    /// the last day), so the tiles and the charts of one answer share the sweep.
    pub fn prepare(&self, channel: &'static str, ends: &[i64]) {
        let mut ends = ends.to_vec();
        ends.sort_unstable();
        ends.dedup();
        let (counts, state) = self.consents(channel, &ends);
        self.sweeps.put(channel, (ends, counts, state));
    }

    /// Reads every client's last purchase by each of `days` once, for the figures that follow.
    pub fn prepare_purchases(&self, days: &[i64]) {
        for &day in days {
            self.last_purchases(day);
        }
    }

    /// Clients by consent status on `channel` at the end of each bucket.
    pub fn subscriptions_over_time(&self, channel: &str, buckets: &[(i64, i64)]) -> Vec<Series> {
        let ends: Vec<i64> = buckets.iter().map(|b| b.1).collect();
        let (counts, _) = self.consents(channel, &ends);
        over_time(&history::CONSENT_STATES, buckets, &counts)
    }

    /// On `day`: a series per consent status, a point per gender.
    pub fn subscriptions_by_gender(&self, channel: &str, day: i64) -> Vec<Series> {
        let (_, state) = self.consents(channel, &[day]);
        let gender = self.p.clients.get("client.gender");
        let mut counts = [[0i64; 5]; 3];
        for r in self.seen.rows() {
            let Some(&s) = state.get(r).filter(|s| **s != u8::MAX) else { continue };
            let g = gender.map_or("", |c| c.text_at(r));
            let g = GENDERS.iter().position(|x| *x == g).unwrap_or(3);
            counts[s as usize][g] += 1;
        }
        history::CONSENT_STATES
            .iter()
            .zip(counts)
            .map(|(name, by_gender)| Series {
                name: name.to_string(),
                points: GENDERS.iter().zip(by_gender).map(|(g, value)| category(g, value)).collect(),
            })
            .collect()
    }

    /// Identified and unidentified clients at the end of each bucket.
    pub fn identified_over_time(&self, buckets: &[(i64, i64)]) -> Vec<Series> {
        let (changes, changed) = history::identified_changes(self.p);
        let current = self.p.clients.get("client.identified").map(Column::numbers).unwrap_or(&[]);
        let initial = |r: usize| if !changed.get(r) && current.get(r) == Some(&1) { 0 } else { 1 };
        let ends: Vec<i64> = buckets.iter().map(|b| b.1).collect();
        let (counts, _) = history::states_over_time(&self.joined, self.seen, &changes, initial, &ends, 2);
        over_time(&history::IDENTIFIED_STATES, buckets, &counts)
    }

    /// On `day`, of the clients who had joined: never bought, bought at least once.
    pub fn prospects_vs_spenders(&self, day: i64) -> Vec<Series> {
        let last = self.last_purchases(day);
        let spenders = self.seen.rows().filter(|r| last[*r] != NONE).count() as i64;
        let joined = self.joined.by(day);
        vec![Series {
            name: "clients".into(),
            points: vec![category("prospects", (joined - spenders).max(0)), category("spenders", spenders)],
        }]
    }

    /// Spenders on `day` by days since their last purchase: active, low risk, high risk.
    pub fn activity(&self, day: i64) -> Vec<Series> {
        let s = self.settings;
        let last = self.last_purchases(day);
        let mut bands = [0i64; 3];
        for r in self.seen.rows().filter(|r| last[*r] != NONE) {
            let days = day - last[r];
            let band = if days < s.activity_active_days {
                0
            } else if days <= s.activity_low_risk_days {
                1
            } else {
                2
            };
            bands[band] += 1;
        }
        let names = ["active", "low_risk", "high_risk"];
        vec![Series { name: "spenders".into(), points: names.iter().zip(bands).map(|(n, v)| category(n, v)).collect() }]
    }

    /// Spenders by lifetime spend up to `day` (big, medium, small) and by purchases (frequent,
    /// repeat, one-time), with today's thresholds.
    pub fn spenders(&self, day: i64) -> (Vec<Series>, Vec<Series>) {
        (*self.spent.get_or(day, || self.spenders_now(day))).clone()
    }

    fn spenders_now(&self, day: i64) -> (Vec<Series>, Vec<Series>) {
        let (count, sum) = history::totals_by(self.p, day);
        let t = self.thresholds;
        let average = t.average_purchases_milli / 1000;
        let (mut value, mut frequency) = ([0i64; 3], [0i64; 3]);
        for r in self.seen.rows().filter(|r| count[*r] > 0) {
            value[if sum[r] >= t.big_from {
                0
            } else if sum[r] >= t.medium_from {
                1
            } else {
                2
            }] += 1;
            frequency[if count[r] > average {
                0
            } else if count[r] > 1 {
                1
            } else {
                2
            }] += 1;
        }
        let series = |names: [&str; 3], values: [i64; 3]| {
            vec![Series {
                name: "spenders".into(),
                points: names.iter().zip(values).map(|(n, v)| category(n, v)).collect(),
            }]
        };
        (series(["big", "medium", "small"], value), series(["frequent", "repeat", "one_time"], frequency))
    }

    /// The ten tags most seen clients carry now, most first (ties by name), by name (by id when
    /// the tag's name never arrived).
    pub fn top_tags(&self) -> Vec<Series> {
        let mut counted: Vec<(String, i64)> = Vec::new();
        if let Some(Column::Set { dict, postings, .. }) = self.p.clients.get("tags") {
            for code in 1..dict.len() as u32 {
                let holders = postings.get(code as usize).map(Vec::as_slice).unwrap_or(&[]);
                let n = holders.iter().filter(|r| self.seen.get(**r as usize)).count() as i64;
                if n > 0 {
                    let id = dict.text(code);
                    counted.push((self.p.tag_names.get(id).cloned().unwrap_or_else(|| id.to_string()), n));
                }
            }
        }
        counted.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        counted.truncate(10);
        vec![Series { name: "clients".into(), points: counted.into_iter().map(|(t, n)| category(&t, n)).collect() }]
    }
}

fn category(label: &str, value: i64) -> Point {
    Point { day: None, label: label.to_string(), value }
}

fn over_time(names: &[&str], buckets: &[(i64, i64)], counts: &[Vec<i64>]) -> Vec<Series> {
    names
        .iter()
        .enumerate()
        .map(|(i, name)| Series {
            name: name.to_string(),
            points: buckets
                .iter()
                .zip(counts)
                .map(|((start, _), c)| Point { day: Some(*start), label: String::new(), value: c[i] })
                .collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests;
