//! A card filter (listing, bulk change) read from the wire: every problem is reported at once.
use super::{kind_name, status_name};
use loyalty_api::card::v1 as pb;
use loyalty_platform::ClientId;
use loyalty_platform::error::Violations;
use time::OffsetDateTime;
use uuid::Uuid;

/// Conditions combine with AND; an empty list places no condition.
#[derive(Debug, Default)]
pub struct CardFilter {
    pub template_ids: Vec<Uuid>,
    pub issue_form_ids: Vec<Uuid>,
    pub kinds: Vec<String>,
    pub statuses: Vec<String>,
    pub store_ids: Vec<String>,
    pub client_id: Option<ClientId>,
    pub issued_from: Option<OffsetDateTime>,
    pub issued_to: Option<OffsetDateTime>,
    /// Numbers between these, inclusive, compared as numbers of the same length.
    pub numbers: Option<(String, String, i32)>,
}

fn ids(field: &str, list: &[String], v: &mut Violations) -> Vec<Uuid> {
    list.iter()
        .filter_map(|t| v.take(field, Uuid::parse_str(t).map_err(|_| "holds something that is not an id")))
        .collect()
}

impl CardFilter {
    pub fn parse(f: &pb::CardFilter) -> Result<Self, Violations> {
        let mut v = Violations::new();
        let kinds: Vec<String> = f.kinds.iter().filter_map(|k| kind_name(*k)).map(String::from).collect();
        v.add_if(kinds.len() != f.kinds.len(), "filter.kinds", "holds an unknown kind");
        let statuses: Vec<String> = f.statuses.iter().filter_map(|s| status_name(*s)).map(String::from).collect();
        v.add_if(statuses.len() != f.statuses.len(), "filter.statuses", "holds an unknown status");
        let client_id = match ClientId::parse_optional("filter.client_id", &f.client_id) {
            Ok(id) => id,
            Err(_) => {
                v.add("filter.client_id", "is not a client id (a UUID)");
                None
            }
        };
        let issued = f.issued.unwrap_or_default();
        let time = |t: Option<prost_types::Timestamp>, field: &str, v: &mut Violations| {
            t.and_then(|t| v.take(field, loyalty_platform::convert::from_timestamp(&t).ok_or("is out of range")))
        };
        let issued_from = time(issued.start, "filter.issued.start", &mut v);
        let issued_to = time(issued.end, "filter.issued.end", &mut v);
        let numbers = if f.number_from.is_empty() && f.number_to.is_empty() {
            None
        } else {
            let (from, to) = (f.number_from.clone(), f.number_to.clone());
            let same_length = from.is_empty() || to.is_empty() || from.len() == to.len();
            v.add_if(!same_length, "filter.number_to", "must have as many digits as number_from");
            let length = if from.is_empty() { to.len() } else { from.len() } as i32;
            Some((from, to, length))
        };
        let filter = CardFilter {
            template_ids: ids("filter.template_ids", &f.template_ids, &mut v),
            issue_form_ids: ids("filter.issue_form_ids", &f.issue_form_ids, &mut v),
            kinds,
            statuses,
            store_ids: f.store_ids.clone(),
            client_id,
            issued_from,
            issued_to,
            numbers,
        };
        if v.is_empty() { Ok(filter) } else { Err(v) }
    }
}
