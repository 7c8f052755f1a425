//! Text as people search and filter it: case- and accent-insensitive (`sarunas` finds `Šarūnas`),
//! the same in the client service's quick search and the segment service's filters.
use unicode_normalization::UnicodeNormalization;

/// Lower case without diacritics; letters with no decomposition (ł, ø, đ, ß) are spelled out.
/// Cyrillic stays Cyrillic, lower-cased (`Ё` → `е`).
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.nfd() {
        if unicode_normalization::char::is_combining_mark(c) {
            continue;
        }
        match c {
            'ł' | 'Ł' => out.push('l'),
            'ø' | 'Ø' => out.push('o'),
            'đ' | 'Đ' => out.push('d'),
            'ß' => out.push_str("ss"),
            'ё' | 'Ё' => out.push('е'),
            c => out.extend(c.to_lowercase()),
        }
    }
    out
}

/// The words of a search term, folded.
pub fn words(text: &str) -> Vec<String> {
    fold(text).split_whitespace().map(str::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accents_and_case_disappear() {
        assert_eq!(fold("Šarūnas Kazlauskienė"), "sarunas kazlauskiene");
        assert_eq!(fold("Łukasz Wiśniewski"), "lukasz wisniewski");
        assert_eq!(fold("Ștefan Rădulescu"), "stefan radulescu");
        assert_eq!(fold("Алёна Иванова"), "алена иванова");
    }

    #[test]
    fn words_split_on_any_space() {
        assert_eq!(words("  Ona\tKazlauskienė "), vec!["ona", "kazlauskiene"]);
    }
}
