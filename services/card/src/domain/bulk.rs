//! What a bulk change (CA-4) does to one card, decided without a database.
use super::{may_become, status_name};
use loyalty_api::card::v1 as pb;
use std::collections::BTreeMap;

/// The outcome for one card.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    Unchanged,
    Changed(Box<pb::Card>),
    /// Its status cannot become the one asked for (a replaced card never becomes active again).
    Refused(&'static str),
}

/// Tallies of a bulk change: what changed per field, and what was refused per status.
#[derive(Debug, Default)]
pub struct Tally {
    pub changed_by_field: BTreeMap<String, i64>,
    pub refused_by_status: BTreeMap<String, i64>,
}

/// Applies `change` to `card`, counting what it changes in `tally`.
pub fn apply(card: &pb::Card, change: &pb::CardChange, tally: &mut Tally) -> Outcome {
    let current = status_name(card.status).unwrap_or("active");
    if change.status != 0 && card.status != change.status {
        let wanted = status_name(change.status).unwrap_or("active");
        if !may_become(current, wanted) {
            *tally.refused_by_status.entry(current.to_string()).or_default() += 1;
            return Outcome::Refused(current);
        }
    }
    let mut out = card.clone();
    let mut fields = Vec::new();
    if !change.template_id.is_empty() && card.template_id != change.template_id {
        out.template_id = change.template_id.clone();
        fields.push("template_id");
    }
    if change.status != 0 && card.status != change.status {
        out.status = change.status;
        fields.push("status");
    }
    let mut tags = card.tags.clone();
    tags.retain(|t| !change.remove_tags.contains(t));
    for t in &change.add_tags {
        if !tags.contains(t) {
            tags.push(t.clone());
        }
    }
    if tags != card.tags {
        out.tags = tags;
        fields.push("tags");
    }
    if fields.is_empty() {
        return Outcome::Unchanged;
    }
    for field in fields {
        *tally.changed_by_field.entry(field.to_string()).or_default() += 1;
    }
    Outcome::Changed(Box::new(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card(status: pb::CardStatus) -> pb::Card {
        pb::Card { status: status as i32, tags: vec!["a".into()], ..Default::default() }
    }

    #[test]
    fn a_replaced_card_is_never_set_active_again() {
        let mut tally = Tally::default();
        let change =
            pb::CardChange { status: pb::CardStatus::Active as i32, add_tags: vec!["b".into()], ..Default::default() };
        assert_eq!(apply(&card(pb::CardStatus::Replaced), &change, &mut tally), Outcome::Refused("replaced"));
        assert_eq!(apply(&card(pb::CardStatus::Deleted), &change, &mut tally), Outcome::Refused("deleted"));
        assert!(matches!(apply(&card(pb::CardStatus::Blocked), &change, &mut tally), Outcome::Changed(_)));
        assert_eq!(tally.refused_by_status.get("replaced"), Some(&1));
        assert_eq!(tally.changed_by_field.get("status"), Some(&1));
        assert_eq!(tally.changed_by_field.get("tags"), Some(&1));
    }

    #[test]
    fn a_change_that_changes_nothing_is_not_counted() {
        let mut tally = Tally::default();
        let change = pb::CardChange { add_tags: vec!["a".into()], ..Default::default() };
        assert_eq!(apply(&card(pb::CardStatus::Active), &change, &mut tally), Outcome::Unchanged);
        assert!(tally.changed_by_field.is_empty());
    }
}
