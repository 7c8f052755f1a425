//! How many SMS parts a text takes (ME-3): GSM-7 when every character is in the GSM 03.38 set
//! (160 septets alone, 153 per part when split; the extension characters `€ [ ] { } \ ^ ~ |` and
//! form feed take two), else UCS-2 (70 UTF-16 units alone, 67 per part; an emoji outside the basic
//! plane takes two). A part never splits an escape or a surrogate pair.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Gsm7,
    Ucs2,
}

impl Encoding {
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Gsm7 => "gsm7",
            Encoding::Ucs2 => "ucs2",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Parts {
    pub encoding: Encoding,
    pub segments: u32,
    /// Characters as a person counts them (Unicode scalar values).
    pub characters: u32,
}

const BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
const EXTENSION: &str = "\u{c}^{}\\[~]|€";

/// The septets `c` takes in GSM-7, or None when GSM-7 cannot carry it.
fn septets(c: char) -> Option<u32> {
    if BASIC.contains(c) {
        Some(1)
    } else if EXTENSION.contains(c) {
        Some(2)
    } else {
        None
    }
}

pub fn parts(text: &str) -> Parts {
    let characters = text.chars().count() as u32;
    let gsm: Option<Vec<u32>> = text.chars().map(septets).collect();
    let (encoding, costs, alone, per_part) = match gsm {
        Some(costs) => (Encoding::Gsm7, costs, 160, 153),
        None => (Encoding::Ucs2, text.chars().map(|c| c.len_utf16() as u32).collect(), 70, 67),
    };
    let total: u32 = costs.iter().sum();
    let segments = if total == 0 {
        0
    } else if total <= alone {
        1
    } else {
        let (mut segments, mut used) = (1, 0);
        for cost in costs {
            if used + cost > per_part {
                segments += 1;
                used = 0;
            }
            used += cost;
        }
        segments
    };
    Parts { encoding, segments, characters }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(text: &str) -> (Encoding, u32) {
        let p = parts(text);
        (p.encoding, p.segments)
    }

    #[test]
    fn plain_latin_fits_160_then_153_per_part() {
        assert_eq!(of(&"a".repeat(160)), (Encoding::Gsm7, 1));
        assert_eq!(of(&"a".repeat(161)), (Encoding::Gsm7, 2));
        assert_eq!(of(&"a".repeat(306)), (Encoding::Gsm7, 2));
        assert_eq!(of(&"a".repeat(307)), (Encoding::Gsm7, 3));
        assert_eq!(of(""), (Encoding::Gsm7, 0));
    }

    #[test]
    fn extension_characters_count_double_and_never_split() {
        assert_eq!(of(&"€".repeat(80)), (Encoding::Gsm7, 1));
        assert_eq!(of(&"€".repeat(81)), (Encoding::Gsm7, 2));
        // 152 septets then an escape pair: the pair moves whole to the second part.
        let text = format!("{}€{}", "a".repeat(152), "a".repeat(10));
        assert_eq!(of(&text), (Encoding::Gsm7, 2));
        let text = format!("{}€{}", "a".repeat(152), "a".repeat(152));
        assert_eq!(of(&text), (Encoding::Gsm7, 3));
    }

    #[test]
    fn lithuanian_polish_romanian_and_russian_letters_switch_to_ucs2() {
        for text in ["Ačiū, Šarūnė!", "Dziękujemy, Łukasz", "Mulțumim, Ștefan", "Спасибо, Иван"] {
            assert_eq!(parts(text).encoding, Encoding::Ucs2, "{text}");
        }
        assert_eq!(of(&"ą".repeat(70)), (Encoding::Ucs2, 1));
        assert_eq!(of(&"ą".repeat(71)), (Encoding::Ucs2, 2));
        assert_eq!(of(&"ж".repeat(134)), (Encoding::Ucs2, 2));
        assert_eq!(of(&"ж".repeat(135)), (Encoding::Ucs2, 3));
        // German and Scandinavian letters of the GSM set stay GSM-7.
        assert_eq!(parts("Grüße aus Malmö, Åsa").encoding, Encoding::Gsm7);
    }

    #[test]
    fn emoji_take_two_units_and_a_pair_is_never_split() {
        assert_eq!(of(&"😀".repeat(35)), (Encoding::Ucs2, 1));
        assert_eq!(of(&"😀".repeat(36)), (Encoding::Ucs2, 2));
        // 66 units then an emoji: it cannot take the 67th unit alone.
        let text = format!("{}😀", "ą".repeat(66));
        assert_eq!(of(&text), (Encoding::Ucs2, 1), "68 units fit one message alone");
        let text = format!("{}😀{}", "ą".repeat(66), "ą".repeat(66));
        assert_eq!(of(&text), (Encoding::Ucs2, 3));
        assert_eq!(parts("😀").characters, 1);
    }
}
