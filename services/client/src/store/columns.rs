//! Which values of a client a query reads: all of them, or only what the caller's read mask (the
//! list table's column choice, CL-7) shows — so a table of names and phones reads neither the
//! tags, consents and merged ids nor the JSON columns, and Postgres builds a narrow row.
use std::borrow::Cow;
use std::sync::LazyLock;

/// Each value a client is read as, in the order [`super::clients::read`] takes them.
const COLUMNS: [&str; 36] = [
    "c.id",
    "c.first_name",
    "c.last_name",
    "c.middle_name",
    "c.email",
    "c.phone",
    "c.phone_original",
    "c.phone_verified",
    "c.birth_date",
    "c.gender",
    "c.address",
    "c.city",
    "c.region",
    "c.notes",
    "c.car_number",
    "c.additional_keys",
    "c.custom_attributes",
    "c.children",
    "c.registration_store_id",
    "c.added_by",
    "c.registered_at",
    "c.updated_at",
    "c.utm",
    "c.referrer_client_id",
    "c.source_channel",
    "c.anonymous_ids",
    "c.status",
    "c.block",
    "c.personal_data_consent",
    "c.third_party_consent",
    "c.erased",
    "c.version",
    "(SELECT coalesce(array_agg(ct.tag_id ORDER BY ct.tag_id), '{}') FROM client_tags ct \
          WHERE ct.tenant_id = c.tenant_id AND ct.client_id = c.id)",
    "(SELECT coalesce(array_agg(m.id ORDER BY m.id), '{}') FROM clients m \
          WHERE m.tenant_id = c.tenant_id AND m.merged_into = c.id)",
    "(SELECT coalesce(jsonb_agg(jsonb_build_object('channel', k.channel, 'status', k.status, \
          'changed_at', k.changed_at, 'source', k.source, 'address', k.address) ORDER BY k.channel), '[]') \
          FROM consents k WHERE k.tenant_id = c.tenant_id AND k.client_id = c.id)",
    "(SELECT coalesce(array_agg(ps.store_id ORDER BY ps.store_id), '{}') FROM purchase_stores ps \
          WHERE ps.tenant_id = c.tenant_id AND ps.client_id = c.id)",
];

/// The values behind one field of `Client` as a read mask names it; `None` for no such field.
fn values_of(path: &str) -> Option<&'static [usize]> {
    Some(match path {
        "id" | "etag" => &[],
        "first_name" => &[1],
        "last_name" => &[2],
        "middle_name" => &[3],
        "full_name" => &[1, 2, 3],
        "email" => &[4],
        "phone" => &[5],
        "identified" => &[4, 5],
        "phone_original" => &[6],
        "phone_verified" => &[7],
        "birth_date" => &[8],
        "gender" => &[9],
        "address" => &[10],
        "city" => &[11],
        "region" => &[12],
        "notes" => &[13],
        "car_number" => &[14],
        "additional_keys" => &[15],
        "custom_attributes" => &[16],
        "children" => &[17],
        "registration_store_id" => &[18],
        "added_by" => &[19],
        "registered_at" => &[20],
        "updated_at" => &[21],
        "utm" => &[22],
        "referrer_client_id" => &[23],
        "source_channel" => &[24],
        "anonymous_ids" => &[25],
        "status" => &[26],
        "block" => &[27],
        "personal_data_consent" => &[28],
        "third_party_transfer_consent" => &[29],
        "erased" => &[30],
        "tag_ids" => &[32],
        "merged_client_ids" => &[33],
        "consents" => &[34],
        _ => return None,
    })
}

/// Which values of a client row a query reads (a bit per [`COLUMNS`] entry); the id and the
/// version (the etag) always.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Selection(u64);

static EVERY_VALUE: LazyLock<String> = LazyLock::new(|| COLUMNS.join(", "));

const ALWAYS: u64 = 1 | 1 << 31;

impl Selection {
    /// The whole client: every column, its tags, merged ids, consents and purchase stores.
    pub const ALL: Selection = Selection((1 << COLUMNS.len()) - 1);

    /// What a read mask needs; no paths means the whole client. An unknown path is the error.
    pub fn for_read_mask(paths: &[String]) -> Result<Selection, String> {
        if paths.is_empty() {
            return Ok(Selection::ALL);
        }
        let mut bits = ALWAYS;
        for path in paths {
            let values = values_of(path).ok_or_else(|| path.clone())?;
            bits |= values.iter().fold(0, |b, i| b | 1 << i);
        }
        Ok(Selection(bits))
    }

    /// The SELECT list: the chosen values in [`COLUMNS`] order.
    pub fn sql(self) -> Cow<'static, str> {
        if self == Selection::ALL {
            return Cow::Borrowed(EVERY_VALUE.as_str());
        }
        let picked: Vec<&str> = (0..COLUMNS.len()).filter(|i| self.has(*i)).map(|i| COLUMNS[i]).collect();
        Cow::Owned(picked.join(", "))
    }

    /// How many values a row has (list queries append their own after them).
    pub fn width(self) -> usize {
        self.0.count_ones() as usize
    }

    /// Whether value `i` of [`COLUMNS`] is read.
    pub fn has(self, i: usize) -> bool {
        self.0 & (1 << i) != 0
    }

    /// Where value `i` of [`COLUMNS`] is in a row, when it is read.
    pub fn position(self, i: usize) -> Option<usize> {
        self.has(i).then(|| (self.0 & ((1 << i) - 1)).count_ones() as usize)
    }
}

/// Every value of a client row, as a SELECT list.
pub fn every_value() -> &'static str {
    EVERY_VALUE.as_str()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mask_reads_only_what_its_fields_need() {
        let s = Selection::for_read_mask(&["full_name".into(), "phone".into()]).expect("known paths");
        assert_eq!(s.sql(), "c.id, c.first_name, c.last_name, c.middle_name, c.phone, c.version");
        assert_eq!((s.width(), s.position(5), s.position(31), s.position(4)), (6, Some(4), Some(5), None));
    }

    #[test]
    fn no_mask_reads_everything_and_an_unknown_path_is_named() {
        assert_eq!(Selection::for_read_mask(&[]), Ok(Selection::ALL));
        assert_eq!(Selection::ALL.sql(), every_value());
        assert_eq!((Selection::ALL.width(), Selection::ALL.position(35)), (36, Some(35)));
        assert_eq!(Selection::for_read_mask(&["phone".into(), "password".into()]), Err("password".to_string()));
    }
}
