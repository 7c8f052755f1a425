//! What a file is before it is read as rows: text or not, its encoding, its delimiter.
use encoding_rs::Encoding;

/// The encodings an uploader may name.
pub const ENCODINGS: &[&str] = &["utf-8", "windows-1257", "windows-1251", "windows-1252"];

/// The encoding named by an upload ("utf-8", "windows-1257", ...), if it is one we read.
pub fn named(label: &str) -> Option<&'static Encoding> {
    ENCODINGS.contains(&label.to_ascii_lowercase().as_str()).then(|| Encoding::for_label(label.as_bytes())).flatten()
}

/// Why the start of a file is not a CSV, if it is not: a spreadsheet or archive, a PDF, binary.
pub fn not_text(head: &[u8]) -> Option<&'static str> {
    if head.starts_with(b"PK\x03\x04") {
        return Some(
            "the file is a zip archive (an .xlsx workbook?), not CSV text: upload it as XLSX or save it as CSV",
        );
    }
    if head.starts_with(b"%PDF") {
        return Some("the file is a PDF, not CSV text");
    }
    if head.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]) {
        return Some("the file is an old Excel (.xls) workbook, not CSV text: save it as CSV or .xlsx");
    }
    let utf16 = head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF]);
    if !utf16 && head.contains(&0) {
        return Some("the file holds NUL bytes: it is not CSV text");
    }
    None
}

/// The encoding of a file that starts with `head`: its byte-order mark, else UTF-8 when `head` is
/// valid UTF-8 (a character cut at the end of the sample allowed), else the likeliest of the
/// single-byte encodings of the chain's countries.
pub fn detect(head: &[u8], whole_file: bool) -> &'static Encoding {
    if let Some((encoding, _)) = Encoding::for_bom(head) {
        return encoding;
    }
    match std::str::from_utf8(head) {
        Ok(_) => return encoding_rs::UTF_8,
        Err(e) if e.error_len().is_none() && !whole_file => return encoding_rs::UTF_8,
        Err(_) => {}
    }
    let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
    detector.feed(head, whole_file);
    let guess = detector.guess(None, chardetng::Utf8Detection::Deny);
    // A few lines of Baltic text look like Western European text to the detector: Lithuanian
    // letters (š, ž, ų, ė) in windows-1257 are the most common reason for a non-UTF-8 file here.
    if guess == encoding_rs::WINDOWS_1252 && looks_baltic(head) {
        return encoding_rs::WINDOWS_1257;
    }
    guess
}

/// Bytes that are Lithuanian letters in windows-1257 and rare in windows-1252 text.
fn looks_baltic(head: &[u8]) -> bool {
    // š ž ų ė ū į č ą ę and their capitals in windows-1257.
    const BALTIC: &[u8] =
        &[0xF0, 0xFE, 0xF8, 0xEB, 0xFB, 0xE1, 0xE8, 0xE0, 0xE6, 0xD0, 0xDE, 0xD8, 0xCB, 0xDB, 0xC1, 0xC8, 0xC0, 0xC6];
    let high: Vec<u8> = head.iter().copied().filter(|b| *b >= 0x80).collect();
    !high.is_empty() && high.iter().filter(|b| BALTIC.contains(b)).count() * 2 >= high.len()
}

/// The delimiter of the first line: the most frequent of `,` `;` tab `|` outside quotes (`,` when
/// none appears).
pub fn delimiter(head: &str) -> u8 {
    let mut counts = [0usize; 4];
    let candidates = [b',', b';', b'\t', b'|'];
    let mut quoted = false;
    for b in head.bytes() {
        match b {
            b'"' => quoted = !quoted,
            b'\n' | b'\r' if !quoted => break,
            _ if !quoted => {
                if let Some(i) = candidates.iter().position(|c| *c == b) {
                    counts[i] += 1;
                }
            }
            _ => {}
        }
    }
    let best = (0..4).max_by_key(|i| (counts[*i], 4 - i)).unwrap_or(0);
    if counts[best] == 0 { b',' } else { candidates[best] }
}

/// A delimiter as the job shows it.
pub fn delimiter_name(d: u8) -> String {
    if d == b'\t' { "\\t".into() } else { (d as char).to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_are_told_by_bom_validity_and_letters() {
        let lithuanian = "Vardas;Pavardė\nŠarūnė;Žemaitė\nJūratė;Čiurlionienė\n";
        let (bytes, _, _) = encoding_rs::WINDOWS_1257.encode(lithuanian);
        assert_eq!(detect(&bytes, true), encoding_rs::WINDOWS_1257);
        let (cyrillic, _, _) = encoding_rs::WINDOWS_1251.encode("Имя;Фамилия\nАнна;Иванова\nОльга;Петрова\n");
        assert_eq!(detect(&cyrillic, true), encoding_rs::WINDOWS_1251);
        assert_eq!(detect(lithuanian.as_bytes(), true), encoding_rs::UTF_8);
        let bom = [&[0xEF, 0xBB, 0xBF][..], lithuanian.as_bytes()].concat();
        assert_eq!(detect(&bom, true), encoding_rs::UTF_8);
        let cut = &"Šarūnė".as_bytes()[..2];
        assert_eq!(detect(cut, false), encoding_rs::UTF_8, "a letter cut by the sample's end is still UTF-8");
    }

    #[test]
    fn delimiters_and_non_text_files() {
        assert_eq!(delimiter("Vardas;Pavardė;El. paštas\n"), b';');
        assert_eq!(delimiter("\"a;b\",c,d\n"), b',');
        assert_eq!(delimiter("a\tb\tc"), b'\t');
        assert_eq!(delimiter("single"), b',');
        assert!(not_text(b"PK\x03\x04rest").expect("zip").contains("xlsx"));
        assert!(not_text(b"a,b\0c").is_some());
        assert_eq!(not_text("Vardas,Pavardė".as_bytes()), None);
    }
}
