//! The fact catalogue (SE-1): every fact a condition may name, what it belongs to, its type and
//! unit, the operators it takes, and its label in the tenant's language. The filter fields of the
//! help-centre pages 001 and 002 are all here; `ListFacts` answers this table.
//!
//! The table itself is `facts.tsv` beside this file, one fact a line (tab-separated: name, entity,
//! type, unit, flags, enum values, then the labels in English, Lithuanian, Russian, Polish and
//! Romanian), so that a translator can edit it without reading Rust. The tests check every line.
use loyalty_api::filter::v1::{Entity, FactType, Operator};
use std::sync::OnceLock;

/// One fact of the catalogue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FactInfo {
    pub name: &'static str,
    pub entity: Entity,
    pub kind: FactType,
    /// "currency" (the tenant's), "days", "points", "pieces", "lines", "years", "%"; empty when none.
    pub unit: &'static str,
    /// A period fact: takes a window.
    pub window: bool,
    /// Matches exactly after normalisation (card number, email, phone).
    pub identifier: bool,
    /// Personal data: shown only with `clients.read`.
    pub personal: bool,
    /// Dates whose anniversary matters (birthdays).
    pub anniversary: bool,
    /// The allowed values of an enum.
    pub values: Vec<&'static str>,
    /// Labels in English, Lithuanian, Russian, Polish and Romanian.
    pub labels: [&'static str; 5],
}

/// The languages labels come in, in the order of [`FactInfo::labels`].
pub const LANGUAGES: [&str; 5] = ["en", "lt", "ru", "pl", "ro"];

const TABLE: &str = include_str!("facts.tsv");

impl FactInfo {
    /// The label in `language` ("lt", "ru-RU"), English when the language has none.
    pub fn label(&self, language: &str) -> &'static str {
        let short = language.split(['-', '_']).next().unwrap_or("").to_lowercase();
        LANGUAGES.iter().position(|l| *l == short).map(|i| self.labels[i]).unwrap_or(self.labels[0])
    }

    /// Row facts take dependent conditions on the same rows.
    pub fn takes_dependent(&self) -> bool {
        !matches!(self.entity, Entity::Client | Entity::Unspecified)
    }

    /// The operators the fact takes.
    pub fn operators(&self) -> Vec<Operator> {
        use Operator as O;
        let mut ops = match self.kind {
            FactType::Text => vec![O::Equal, O::NotEqual, O::AnyOf, O::NoneOf, O::Contains, O::StartsWith],
            FactType::Id | FactType::Enum => vec![O::Equal, O::NotEqual, O::AnyOf, O::NoneOf],
            FactType::Boolean => vec![O::Equal],
            FactType::Integer | FactType::Decimal | FactType::Money => {
                vec![O::Equal, O::NotEqual, O::Less, O::LessOrEqual, O::Greater, O::GreaterOrEqual, O::Between]
            }
            FactType::Date => vec![
                O::Equal,
                O::NotEqual,
                O::Less,
                O::LessOrEqual,
                O::Greater,
                O::GreaterOrEqual,
                O::Between,
                O::DaysAgoBetween,
            ],
            FactType::Set => vec![O::AnyOf, O::AllOf, O::NoneOf],
            FactType::Unspecified => vec![],
        };
        if self.anniversary {
            ops.extend([O::AnniversaryWithinDays, O::AnniversaryInMonth]);
        }
        // Membership of saved segments is asked segment by segment.
        if self.kind != FactType::Boolean && self.name != "segments" {
            ops.extend([O::IsSet, O::IsNotSet]);
        }
        ops
    }
}

/// Every fact, in the order the filter builder lists them.
pub fn catalogue() -> &'static [FactInfo] {
    static FACTS: OnceLock<Vec<FactInfo>> = OnceLock::new();
    FACTS.get_or_init(|| {
        // The table ships inside the binary and the tests read every line of it.
        read(TABLE).unwrap_or_else(|e| panic!("facts.tsv: {e}"))
    })
}

/// The fact named `name`.
pub fn find(name: &str) -> Option<&'static FactInfo> {
    catalogue().iter().find(|f| f.name == name)
}

/// The facts of `table`, or the first line that does not read.
fn read(table: &'static str) -> Result<Vec<FactInfo>, String> {
    let mut facts = Vec::new();
    for (n, line) in table.lines().enumerate().skip(1).filter(|(_, l)| !l.trim().is_empty()) {
        let cells: Vec<&'static str> = line.split('\t').collect();
        let [name, entity, kind, unit, flags, values, en, lt, ru, pl, ro] = cells[..] else {
            return Err(format!("line {}: {} cells, expected 11", n + 1, cells.len()));
        };
        let entity = Entity::from_str_name(&format!("ENTITY_{}", entity.to_uppercase()))
            .ok_or_else(|| format!("line {}: no entity {entity:?}", n + 1))?;
        let kind = FactType::from_str_name(&format!("FACT_TYPE_{}", kind.to_uppercase()))
            .ok_or_else(|| format!("line {}: no type {kind:?}", n + 1))?;
        let flag = |f: &str| flags.split(',').any(|x| x == f);
        facts.push(FactInfo {
            name,
            entity,
            kind,
            unit,
            window: flag("window"),
            identifier: flag("identifier"),
            personal: flag("personal") || flag("identifier"),
            anniversary: flag("anniversary"),
            values: values.split(',').filter(|v| !v.is_empty()).collect(),
            labels: [en, lt, ru, pl, ro],
        });
    }
    Ok(facts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fact_has_a_unique_name_a_type_labels_and_operators() {
        let mut names = std::collections::HashSet::new();
        for f in catalogue() {
            assert!(names.insert(f.name), "{} is listed twice", f.name);
            assert!(f.labels.iter().all(|l| !l.is_empty()), "{} lacks a label", f.name);
            assert!(!f.operators().is_empty(), "{} takes no operator", f.name);
            assert_eq!(f.kind == FactType::Enum, !f.values.is_empty(), "{}: enums and only enums list values", f.name);
            assert!(!super::super::text::KEYWORDS.contains(&f.name), "{} is a keyword", f.name);
            assert!(!f.values.contains(&""), "{}: an empty enum value", f.name);
        }
        assert_eq!(catalogue().len(), 108);
        assert_eq!(find("purchases.sum").map(|f| f.label("ru-RU")), Some("Сумма покупок"));
        assert_eq!(find("purchases.sum").map(|f| f.label("de")), Some("Purchase total"), "English otherwise");
        let birthday = find("client.birth_date").expect("birthday");
        assert!(birthday.operators().contains(&Operator::AnniversaryWithinDays));
    }

    #[test]
    fn the_filter_fields_of_the_help_centre_pages_are_all_there() {
        // 001's filter list and 002's groups, by the fact each one is.
        let seeds = [
            "client.full_name",
            "client.last_name",
            "client.first_name",
            "client.middle_name",
            "cards.number",
            "client.phone",
            "client.phone_verified",
            "client.email",
            "client.birth_date",
            "client.gender",
            "client.car_number",
            "client.additional_key_1",
            "client.additional_key_6",
            "cards.template",
            "ledger.available",
            "ledger.discount",
            "ledger.level",
            "purchases.sum",
            "purchases.count",
            "purchases.average_check",
            "ledger.last_accrual_at",
            "ledger.last_write_off_at",
            "client.registered_at",
            "client.updated_at",
            "tags",
            "segments",
            "cards.issue_form",
            "client.registration_store",
            "client.city",
            "client.utm_source",
            "client.utm_medium",
            "client.utm_campaign",
            "client.utm_content",
            "client.utm_term",
            "client.referrer_id",
            "rfm.segment",
            "rfm.recency",
            "client.age",
            "children.name",
            "children.age",
            "children.birth_date",
            "children.gender",
            "consent.telegram",
            "deliveries.status",
            "deliveries.manual",
            "client.status",
            "client.days_in_programme",
            "client.added_by",
            "cards.wallet",
            "ledger.used",
            "ledger.expired",
            "ledger.next_expiry_at",
            "purchases.promotions",
            "purchases.promo_codes",
            "purchases.items",
            "purchases.max_check",
            "purchases.days_between",
            "purchases.date",
            "purchases.last_at",
            "purchases.days_since_last",
            "purchases.most_frequent_store",
            "purchases.last_store",
            "purchases.stores",
            "purchases.sellers",
            "purchase_lines.name",
            "purchase_lines.sku",
            "returns.count",
            "returns.sum",
            "return_lines.date",
            "returns.last_at",
            "returns.days_since_last",
            "return_lines.store",
            "return_lines.accepted_by",
            "return_lines.category",
            "return_lines.sku",
            "return_lines.name",
        ];
        for name in seeds {
            assert!(find(name).is_some(), "{name} is missing from the catalogue");
        }
    }
}
