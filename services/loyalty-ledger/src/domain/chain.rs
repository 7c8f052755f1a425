//! Each account's entries are hash-chained: an entry's hash covers the previous entry's hash and
//! the entry's own content, so an edited or deleted entry breaks every hash after it.
use sha2::{Digest, Sha256};

/// The content of an entry that its hash covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryContent<'a> {
    pub id: &'a str,
    pub client_id: &'a str,
    pub kind: &'a str,
    pub points: i64,
    /// Unix time in microseconds.
    pub at_micros: i64,
    pub lot: &'a str,
    pub reference: &'a str,
}

/// Hex SHA-256 of `previous` and `entry`, each field length-prefixed so no two contents collide.
pub fn hash(previous: &str, entry: &EntryContent<'_>) -> String {
    let mut h = Sha256::new();
    for part in [previous, entry.id, entry.client_id, entry.kind, entry.lot, entry.reference] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    h.update(entry.points.to_be_bytes());
    h.update(entry.at_micros.to_be_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The first entry (index) whose stored hash does not match the chain, if any.
pub fn first_broken(entries: &[(EntryContent<'_>, String)]) -> Option<usize> {
    let mut previous = String::new();
    for (i, (content, stored)) in entries.iter().enumerate() {
        let expected = hash(&previous, content);
        if &expected != stored {
            return Some(i);
        }
        previous = expected;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, points: i64) -> EntryContent<'_> {
        EntryContent { id, client_id: "c1", kind: "earned", points, at_micros: 1, lot: "l1", reference: "p1" }
    }

    #[test]
    fn an_edited_or_removed_entry_breaks_the_chain() {
        let contents = [entry("e1", 100), entry("e2", -30), entry("e3", 5)];
        let mut chain = Vec::new();
        let mut previous = String::new();
        for c in &contents {
            let h = hash(&previous, c);
            chain.push((c.clone(), h.clone()));
            previous = h;
        }
        assert_eq!(first_broken(&chain), None);
        let mut edited = chain.clone();
        edited[1].0.points = -3;
        assert_eq!(first_broken(&edited), Some(1));
        let mut removed = chain.clone();
        removed.remove(1);
        assert_eq!(first_broken(&removed), Some(1));
    }

    #[test]
    fn fields_cannot_be_shifted_into_each_other() {
        let a = EntryContent { kind: "ab", lot: "c", ..entry("e", 1) };
        let b = EntryContent { kind: "a", lot: "bc", ..entry("e", 1) };
        assert_ne!(hash("", &a), hash("", &b));
    }
}
