//! Saved segments as a tenant's model holds them, and who their members are: a dynamic segment's
//! members are its filter answered now; a static segment's are its frozen list. A filter may name
//! other segments (the `segments` fact); cycles are refused when a segment is saved, so resolving
//! never loops.
use super::bits::Bits;
use super::evaluate::{Context, evaluate};
use super::population::Population;
use loyalty_api::filter::v1::{Filter, value};
use std::collections::{BTreeMap, HashSet};
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Membership follows the data.
    Dynamic,
    /// A snapshot of a filter or a manual list.
    Static,
    /// Built in, from the tenant's settings and thresholds (`auto:vip`): never saved by a caller.
    Automatic,
    /// Built in: an RFM segment (`rfm:champions`).
    Rfm,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Dynamic => "dynamic",
            Kind::Static => "static",
            Kind::Automatic => "automatic",
            Kind::Rfm => "rfm",
        }
    }

    /// Built in: changed through the settings, never by a caller.
    pub fn built_in(self) -> bool {
        matches!(self, Kind::Automatic | Kind::Rfm)
    }

    pub fn parse(text: &str) -> Kind {
        if text == "dynamic" { Kind::Dynamic } else { Kind::Static }
    }
}

#[derive(Clone, Debug)]
pub struct Saved {
    pub id: Uuid,
    pub name: String,
    pub colour: String,
    pub description: String,
    pub kind: Kind,
    /// The conditions of a dynamic segment or of a snapshot; `None` for a manual list.
    pub filter: Option<Filter>,
    pub version: i32,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    pub snapshot_at: Option<OffsetDateTime>,
    /// A static segment's members.
    pub members: Vec<Uuid>,
    /// Whether the initial members are announced as "entered".
    pub announce: bool,
}

impl Saved {
    pub fn etag(&self) -> String {
        format!("v{}", self.version)
    }
}

/// A tenant's saved segments by id.
pub type Segments = BTreeMap<Uuid, Saved>;

/// How deep segments may name segments (a guard; cycles are refused on save).
const MAX_DEPTH: usize = 16;

/// The live client rows of segment `id`, or `None` when the tenant has no such segment.
pub fn members(p: &Population, all: &Segments, id: &str, today: i64, phone_region: &str) -> Option<Bits> {
    resolve(p, all, id, today, phone_region, 0)
}

fn resolve(p: &Population, all: &Segments, id: &str, today: i64, phone_region: &str, depth: usize) -> Option<Bits> {
    let saved = all.get(&key(id)?)?;
    if depth > MAX_DEPTH {
        return Some(Bits::none(p.len()));
    }
    let mut bits = match (saved.kind, &saved.filter) {
        (Kind::Dynamic | Kind::Automatic | Kind::Rfm, Some(filter)) => {
            let nested = |other: &str| resolve(p, all, other, today, phone_region, depth + 1);
            let cx = Context { today, phone_region, segment: &nested };
            evaluate(p, filter, &cx)
        }
        _ => {
            let mut b = Bits::none(p.len());
            for row in saved.members.iter().filter_map(|c| p.find(*c)) {
                b.set(row as usize, true);
            }
            b.and(&p.live);
            b
        }
    };
    bits.grow(p.len());
    Some(bits)
}

/// The uuid a segment id names: a saved segment's own, or a built-in one's ("auto:vip").
pub fn key(id: &str) -> Option<Uuid> {
    let id = id.trim();
    match super::automatic::find(id) {
        Some(d) => Some(d.uuid()),
        None => Uuid::parse_str(id).ok(),
    }
}

/// The id callers see: a built-in segment's well-known id, else the uuid.
pub fn shown(id: Uuid) -> String {
    super::automatic::id_of(id).map(str::to_string).unwrap_or_else(|| id.to_string())
}

/// The segment ids a filter names, in every group, each once.
pub fn references(filter: &Filter) -> Vec<String> {
    let mut found = Vec::new();
    collect(filter, &mut found);
    let mut seen = HashSet::new();
    found.retain(|id| seen.insert(id.clone()));
    found
}

fn collect(filter: &Filter, found: &mut Vec<String>) {
    for c in filter.conditions.iter().filter(|c| c.fact == "segments") {
        for v in &c.values {
            if let Some(value::Kind::Text(id)) = &v.kind {
                found.push(id.clone());
            }
        }
    }
    for g in &filter.groups {
        collect(g, found);
    }
}

/// Whether segment `from`'s filter reaches segment `target` through the segments it names.
pub fn reaches(all: &Segments, from: &str, target: Uuid) -> bool {
    let mut stack = vec![from.to_string()];
    let mut seen = HashSet::new();
    while let Some(id) = stack.pop() {
        let Some(uuid) = key(&id) else { continue };
        if uuid == target {
            return true;
        }
        if !seen.insert(uuid) {
            continue;
        }
        if let Some(filter) = all.get(&uuid).and_then(|s| s.filter.as_ref()) {
            stack.extend(references(filter));
        }
    }
    false
}

/// The saved segments whose filter names `id`.
pub fn used_by(all: &Segments, id: Uuid) -> Vec<&Saved> {
    all.values()
        .filter(|s| s.filter.as_ref().is_some_and(|f| references(f).iter().any(|r| key(r) == Some(id))))
        .collect()
}

/// The live client row of each of `wanted` (normalised like the filter's identifiers: phones in
/// E.164, card numbers trimmed), `None` where no live client has it. One pass over the column.
pub fn lookup(p: &Population, fact: &str, wanted: &[String], phone_region: &str) -> Vec<Option<u32>> {
    use super::column::Column;
    use loyalty_api::filter::v1::Value;
    let Some(info) = super::facts::find(fact) else { return vec![None; wanted.len()] };
    let no_segment = |_: &str| -> Option<Bits> { None };
    let cx = Context { today: 0, phone_region, segment: &no_segment };
    let values: Vec<Value> = wanted.iter().map(|w| Value { kind: Some(value::Kind::Text(w.clone())) }).collect();
    let keys = super::evaluate::client::normalised(info, &values, &cx);
    let mut found: std::collections::HashMap<&str, u32> = std::collections::HashMap::new();
    let wanted_keys: HashSet<&str> = keys.iter().map(String::as_str).collect();
    let mut scan = |column: Option<&Column>, owner: &dyn Fn(usize) -> Option<u32>| {
        let Some(Column::Text { dict, codes }) = column else { return };
        for (row, code) in codes.iter().enumerate() {
            let text = dict.text(*code);
            if let Some(key) = wanted_keys.get(text)
                && let Some(client) = owner(row).filter(|c| p.live.get(*c as usize))
            {
                found.insert(key, client);
            }
        }
    };
    match fact.split_once('.').map(|(table, _)| table) {
        Some("cards") => {
            if let Some(cards) = p.tables.get("cards") {
                scan(cards.columns.get(fact), &|r| cards.live.get(r).then(|| cards.owner[r]));
            }
        }
        _ => scan(p.clients.get(fact), &|r| u32::try_from(r).ok()),
    }
    keys.iter().map(|k| found.get(k.as_str()).copied()).collect()
}

/// What members spent from day `from` to day `to` (both included), beside what everyone spent.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Spend {
    pub revenue: i64,
    pub purchases: i64,
    pub all_revenue: i64,
    pub all_purchases: i64,
}

pub fn spend(p: &Population, members: &Bits, from: i64, to: i64) -> Spend {
    let mut s = Spend::default();
    let Some(rows) = p.tables.get("purchases") else { return s };
    rows.each_in_window(from, to, |w| {
        if !rows.live.get(w.row) || !p.live.get(w.owner) {
            return;
        }
        s.all_revenue += w.amount;
        s.all_purchases += 1;
        if members.get(w.owner) {
            s.revenue += w.amount;
            s.purchases += 1;
        }
    });
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_member_merged_into_another_client_is_the_survivor() {
        let mut p = Population::default();
        let (survivor, merged, other) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
        let rows = [p.row(survivor), p.row(merged), p.row(other)];
        let id = Uuid::from_u128(99);
        let now = OffsetDateTime::UNIX_EPOCH;
        let list = Saved {
            id,
            name: "Called back".into(),
            colour: String::new(),
            description: String::new(),
            kind: Kind::Static,
            filter: None,
            version: 1,
            created_at: now,
            updated_at: now,
            snapshot_at: None,
            members: vec![merged, other],
            announce: false,
        };
        let all: Segments = [(id, list)].into_iter().collect();
        let who = |p: &Population| members(p, &all, &id.to_string(), 0, "LT").map(|b| b.rows().collect::<Vec<_>>());
        assert_eq!(who(&p), Some(vec![rows[1] as usize, rows[2] as usize]));
        p.merge(survivor, merged);
        assert_eq!(who(&p), Some(vec![rows[0] as usize, rows[2] as usize]), "the list follows the merge");
        p.forget(other);
        assert_eq!(who(&p), Some(vec![rows[0] as usize]), "an erased client is in no list");
    }
}
