//! RFM (SE-5): recency, frequency and monetary scores 1–5 per client, quintiles among the tenant's
//! spenders, and the named segments of the recency × frequency-monetary grid.
//!
//! - Scored: every live client with a purchase on or before the day asked.
//! - Recency: days from the last purchase to the day; frequency and monetary: purchases and spend
//!   in the look-back period ending on the day (a spender with none there has 0 of both).
//! - Each figure has four cut points, the values at the 20th, 40th, 60th and 80th percentile of
//!   the scored clients. F and M score 1 + the cut points the value is above; R scores 5 − the cut
//!   points the days are above, so the most recent buyers score 5.
//! - FM is (F + M) / 2 rounded up; the cell (R, FM) names the segment ([`NAMES`]).
use super::bits::Bits;
use super::column::{Column, NONE};
use super::population::Population;

/// The named segment of each cell: `NAMES[5 - R][FM - 1]`, recency 5 on the first line.
pub const NAMES: [[&str; 5]; 5] = [
    ["new_customers", "potential_loyalists", "potential_loyalists", "champions", "champions"],
    ["promising", "potential_loyalists", "potential_loyalists", "loyal", "champions"],
    ["about_to_sleep", "need_attention", "need_attention", "loyal", "loyal"],
    ["hibernating", "hibernating", "at_risk", "at_risk", "cannot_lose"],
    ["lost", "lost", "at_risk", "at_risk", "cannot_lose"],
];

/// The name of the cell (`recency`, `fm`), both 1..=5.
pub fn name(recency: u8, fm: u8) -> &'static str {
    NAMES[(5 - recency.clamp(1, 5)) as usize][(fm.clamp(1, 5) - 1) as usize]
}

/// The four cut points of each figure.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Bounds {
    pub recency_days: [i64; 4],
    pub frequency: [i64; 4],
    pub monetary: [i64; 4],
}

/// Every client's scores as of a day: `[R, F, M]`, zeros for a client not scored.
#[derive(Clone, Debug, Default)]
pub struct Scored {
    pub as_of: i64,
    pub look_back: i64,
    pub bounds: Bounds,
    pub scores: Vec<[u8; 3]>,
    pub scored: i64,
}

impl Scored {
    /// The grid's counts, `[R - 1][FM - 1]`, of the scored clients in `within`.
    pub fn cells(&self, within: &Bits) -> [[i64; 5]; 5] {
        let mut cells = [[0i64; 5]; 5];
        for r in within.rows() {
            if let Some(&[rec, f, m]) = self.scores.get(r)
                && rec > 0
            {
                cells[(rec - 1) as usize][(fm(f, m) - 1) as usize] += 1;
            }
        }
        cells
    }
}

/// FM: the mean of F and M rounded up.
pub fn fm(f: u8, m: u8) -> u8 {
    (f + m).div_ceil(2)
}

/// The scores of `p` as of day `as_of`, over a look-back of `look_back` days ending on it.
pub fn score(p: &Population, as_of: i64, look_back: i64) -> Scored {
    let n = p.len();
    let last = super::history::last_purchases(p, as_of);
    let (mut count, mut sum) = (vec![0i64; n], vec![0i64; n]);
    if let Some(rows) = p.tables.get("purchases") {
        let amount = rows.columns.get("amount").map(Column::numbers).unwrap_or(&[]);
        for &x in rows.window(as_of - look_back.max(1) + 1, as_of) {
            let x = x as usize;
            if !rows.live.get(x) {
                continue;
            }
            let owner = rows.owner[x] as usize;
            count[owner] += 1;
            sum[owner] = sum[owner].saturating_add(amount.get(x).copied().filter(|v| *v != NONE).unwrap_or(0));
        }
    }
    let scored_rows: Vec<usize> = p.live.rows().filter(|&r| last[r] != NONE).collect();
    let cut = |values: Vec<i64>| -> [i64; 4] {
        let mut v = values;
        v.sort_unstable();
        let mut bounds = [0i64; 4];
        if !v.is_empty() {
            for (k, b) in bounds.iter_mut().enumerate() {
                let rank = (v.len() * (k + 1)).div_ceil(5).max(1);
                *b = v[rank - 1];
            }
        }
        bounds
    };
    let bounds = Bounds {
        recency_days: cut(scored_rows.iter().map(|&r| as_of - last[r]).collect()),
        frequency: cut(scored_rows.iter().map(|&r| count[r]).collect()),
        monetary: cut(scored_rows.iter().map(|&r| sum[r]).collect()),
    };
    let above = |v: i64, b: &[i64; 4]| b.iter().filter(|x| v > **x).count() as u8;
    let mut scores = vec![[0u8; 3]; n];
    for &r in &scored_rows {
        scores[r] = [
            5 - above(as_of - last[r], &bounds.recency_days),
            1 + above(count[r], &bounds.frequency),
            1 + above(sum[r], &bounds.monetary),
        ];
    }
    Scored { as_of, look_back, bounds, scores, scored: scored_rows.len() as i64 }
}

/// Keeps the scores as the client facts `rfm.recency`, `rfm.frequency`, `rfm.monetary` and
/// `rfm.segment`, so filters and the RFM segments read them.
pub fn keep(p: &mut Population, s: &Scored) {
    let n = p.len();
    for (fact, i) in [("rfm.recency", 0usize), ("rfm.frequency", 1), ("rfm.monetary", 2)] {
        let column = p.column(fact, Column::number);
        for r in 0..n {
            let v = s.scores.get(r).map_or(0, |x| x[i]);
            column.put_number(r, (v > 0).then_some(i64::from(v)));
        }
    }
    let column = p.column("rfm.segment", Column::text);
    for r in 0..n {
        let named = match s.scores.get(r) {
            Some(&[rec, f, m]) if rec > 0 => name(rec, fm(f, m)),
            _ => "",
        };
        column.put_text(r, named);
    }
}
