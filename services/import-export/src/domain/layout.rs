//! Which file column holds which client field: the standard layout of seed 000 (Vardas, Pavardė,
//! El. paštas, Telefonas, Gimimo data, Adresas, Miestas, Pastabos), the same names in English,
//! Russian, Polish and Romanian, or the uploader's own mapping.
use loyalty_platform::error::Violations;
use std::collections::BTreeMap;

/// A client field a column can fill.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Field {
    FirstName,
    LastName,
    MiddleName,
    Email,
    Phone,
    BirthDate,
    Gender,
    Address,
    City,
    Region,
    Notes,
    CarNumber,
    Store,
    RegisteredAt,
    EmailConsent,
    SmsConsent,
    ConsentChangedAt,
    /// Card files: the card's number, its holder by id, the day it was issued.
    CardNumber,
    ClientId,
    IssuedAt,
    /// Balance files: the points the client had, and until when they are valid.
    Points,
    ExpiresAt,
    /// Purchase-history files: the store's check, when it was bought, its total and currency.
    CheckId,
    PurchasedAt,
    Amount,
    Currency,
    /// Purchase-history files with lines: one line of a check per row (see [`Layout::lines`]).
    Sku,
    ProductName,
    Category,
    Quantity,
}

/// Every field with its name in a mapping and the headers it is recognised by (lower case).
const FIELDS: &[(Field, &str, &[&str])] = &[
    (Field::FirstName, "first_name", &["first name", "firstname", "vardas", "имя", "imię", "imie", "prenume"]),
    (
        Field::LastName,
        "last_name",
        &["last name", "lastname", "surname", "pavardė", "pavarde", "фамилия", "nazwisko", "nume"],
    ),
    (Field::MiddleName, "middle_name", &["middle name", "patronymic", "отчество"]),
    (
        Field::Email,
        "email",
        &[
            "e-mail",
            "el. paštas",
            "el. pastas",
            "el.paštas",
            "el paštas",
            "электронная почта",
            "почта",
            "adres e-mail",
            "adresa de e-mail",
        ],
    ),
    (Field::Phone, "phone", &["telefonas", "телефон", "telefon", "mobile", "mobilusis", "numer telefonu"]),
    (
        Field::BirthDate,
        "birth_date",
        &["birth date", "birthday", "gimimo data", "дата рождения", "data urodzenia", "data nașterii", "data nasterii"],
    ),
    (Field::Gender, "gender", &["sex", "lytis", "пол", "płeć", "plec", "gen", "sex/gen"]),
    (Field::Address, "address", &["adresas", "адрес", "adres", "adresa"]),
    (Field::City, "city", &["miestas", "город", "miasto", "oraș", "oras"]),
    (Field::Region, "region", &["regionas", "регион", "województwo", "județ"]),
    (Field::Notes, "notes", &["note", "pastabos", "примечания", "заметки", "uwagi", "notițe", "observații"]),
    (Field::CarNumber, "car_number", &["car number", "automobilio numeris"]),
    (Field::Store, "registration_store_id", &["store", "store id", "parduotuvė", "магазин", "sklep", "magazin"]),
    (
        Field::RegisteredAt,
        "registered_at",
        &["registered", "registration date", "registracijos data", "дата регистрации"],
    ),
    (Field::EmailConsent, "email_consent", &["email consent", "sutikimas el. paštu"]),
    (Field::SmsConsent, "sms_consent", &["sms consent", "sutikimas sms"]),
    (Field::ConsentChangedAt, "consent_changed_at", &["consent date", "sutikimo data"]),
    (
        Field::CardNumber,
        "card_number",
        &[
            "card number",
            "card",
            "kortelės numeris",
            "kortelės nr.",
            "kortelė",
            "номер карты",
            "numer karty",
            "număr card",
        ],
    ),
    (Field::ClientId, "client_id", &["client id", "kliento id", "id клиента", "id klienta", "id client"]),
    (
        Field::IssuedAt,
        "issued_at",
        &["issued", "issue date", "išdavimo data", "išduota", "дата выдачи", "data wydania", "data emiterii"],
    ),
    (
        Field::Points,
        "points",
        &["balance", "taškai", "taškų likutis", "likutis", "баллы", "бонусы", "punkty", "puncte"],
    ),
    (
        Field::ExpiresAt,
        "expires_at",
        &[
            "expires",
            "valid until",
            "galioja iki",
            "taškų galiojimas",
            "сгорают",
            "срок действия",
            "ważne do",
            "expiră la",
        ],
    ),
    (
        Field::CheckId,
        "check_id",
        &[
            "check",
            "check id",
            "receipt",
            "čekis",
            "čekio nr.",
            "čekio numeris",
            "номер чека",
            "чек",
            "paragon",
            "numer paragonu",
            "bon",
        ],
    ),
    (
        Field::PurchasedAt,
        "purchased_at",
        &["purchase date", "date", "pirkimo data", "data", "дата покупки", "дата", "data zakupu", "data cumpărării"],
    ),
    (Field::Amount, "amount", &["total", "sum", "suma", "pirkimo suma", "сумма", "kwota", "wartość", "total bon"]),
    (Field::Currency, "currency", &["valiuta", "валюта", "waluta", "moneda", "monedă"]),
    (
        Field::Sku,
        "sku",
        &["product code", "item code", "prekės kodas", "prekes kodas", "артикул", "kod produktu", "cod produs"],
    ),
    (
        Field::ProductName,
        "product_name",
        &["product", "item", "prekė", "preke", "prekės pavadinimas", "товар", "produkt", "produs"],
    ),
    (Field::Category, "category", &["kategorija", "категория", "kategoria", "categorie"]),
    (Field::Quantity, "quantity", &["qty", "kiekis", "количество", "ilość", "ilosc", "cantitate"]),
];

impl Field {
    /// The field's name in a mapping and in the client service's answers ("birth_date").
    pub fn name(self) -> &'static str {
        FIELDS.iter().find(|(f, _, _)| *f == self).map(|(_, n, _)| *n).unwrap_or("")
    }

    pub fn from_name(name: &str) -> Option<Field> {
        FIELDS.iter().find(|(_, n, _)| *n == name).map(|(f, _, _)| *f)
    }

    fn recognise(header: &str) -> Option<Field> {
        let h = header.trim().trim_start_matches('\u{feff}').to_lowercase();
        FIELDS.iter().find(|(_, n, aliases)| *n == h || aliases.contains(&h.as_str())).map(|(f, _, _)| *f)
    }
}

/// The names every mapping may use, for error messages.
pub fn field_names() -> String {
    FIELDS.iter().map(|(_, n, _)| *n).collect::<Vec<_>>().join(", ")
}

/// The file's columns as fields: `columns[i]` is what column `i` holds.
#[derive(Clone, Debug)]
pub struct Layout {
    pub header: Vec<String>,
    pub columns: Vec<Option<Field>>,
}

impl Layout {
    /// The layout of a client file whose first row is `header`: by `mapping` (file column ->
    /// field name) when given, else by recognising the headers. Refused when a required column is
    /// missing: first and last name (seed 000), and an email or a phone.
    pub fn read(header: &[String], mapping: &BTreeMap<String, String>) -> Result<Layout, String> {
        let layout = Layout::map(header, mapping)?;
        let mut missing = Vec::new();
        for f in [Field::FirstName, Field::LastName] {
            if !layout.has(f) {
                missing.push(f.name());
            }
        }
        if !layout.has(Field::Email) && !layout.has(Field::Phone) {
            missing.push("email or phone");
        }
        if !missing.is_empty() {
            return Err(format!(
                "the header row {:?} has no column for {} (the standard layout is Vardas, Pavardė, El. paštas, \
                 Telefonas, Gimimo data, Adresas, Miestas, Pastabos; or give a column mapping)",
                layout.header.join(", "),
                missing.join(", ")
            ));
        }
        Ok(layout)
    }

    /// The layout of a card file: a card number, and the holder by client id, email or phone.
    pub fn read_cards(header: &[String], mapping: &BTreeMap<String, String>) -> Result<Layout, String> {
        let layout = Layout::map(header, mapping)?;
        let holder = [Field::ClientId, Field::Email, Field::Phone].into_iter().any(|f| layout.has(f));
        if layout.has(Field::CardNumber) && holder {
            return Ok(layout);
        }
        Err(format!(
            "the header row {:?} needs a card number column and the holder's client id, e-mail or phone (for \
             example Kortelės numeris, El. paštas, Išdavimo data, Parduotuvė; or give a column mapping)",
            layout.header.join(", ")
        ))
    }

    /// The layout of a balance file: the points, and the holder by client id, email or phone.
    pub fn read_balances(header: &[String], mapping: &BTreeMap<String, String>) -> Result<Layout, String> {
        let layout = Layout::map(header, mapping)?;
        let holder = [Field::ClientId, Field::Email, Field::Phone].into_iter().any(|f| layout.has(f));
        if layout.has(Field::Points) && holder {
            return Ok(layout);
        }
        Err(format!(
            "the header row {:?} needs a points column and the holder's client id, e-mail or phone (for example \
             El. paštas, Taškai, Galioja iki; or give a column mapping)",
            layout.header.join(", ")
        ))
    }

    /// The layout of a purchase-history file: the check, its date and total, and the holder.
    pub fn read_purchases(header: &[String], mapping: &BTreeMap<String, String>) -> Result<Layout, String> {
        let layout = Layout::map(header, mapping)?;
        let holder = [Field::ClientId, Field::Email, Field::Phone].into_iter().any(|f| layout.has(f));
        if [Field::CheckId, Field::PurchasedAt, Field::Amount].into_iter().all(|f| layout.has(f)) && holder {
            return Ok(layout);
        }
        Err(format!(
            "the header row {:?} needs the check, its date and its total, and the holder's client id, e-mail or phone \
             (for example El. paštas, Čekio nr., Pirkimo data, Suma, Parduotuvė; or give a column mapping)",
            layout.header.join(", ")
        ))
    }

    /// Whether a purchase-history file lists lines: with a product code column each row is one
    /// line of a check (its amount the line's), the rows of one check one after another.
    pub fn lines(&self) -> bool {
        self.has(Field::Sku)
    }

    fn has(&self, field: Field) -> bool {
        self.columns.contains(&Some(field))
    }

    /// The columns by `mapping`, or by their headers; no field held twice.
    fn map(header: &[String], mapping: &BTreeMap<String, String>) -> Result<Layout, String> {
        let header: Vec<String> = header.iter().map(|h| h.trim().trim_start_matches('\u{feff}').to_string()).collect();
        let columns: Vec<Option<Field>> = if mapping.is_empty() {
            header.iter().map(|h| Field::recognise(h)).collect()
        } else {
            let missing: Vec<&String> = mapping.keys().filter(|k| !header.contains(k)).collect();
            if !missing.is_empty() {
                return Err(format!(
                    "the column mapping names columns the file does not have: {}",
                    missing.iter().map(|m| format!("{m:?}")).collect::<Vec<_>>().join(", ")
                ));
            }
            header.iter().map(|h| mapping.get(h).and_then(|f| Field::from_name(f))).collect()
        };
        let mut seen = BTreeMap::new();
        for (i, f) in columns.iter().enumerate() {
            if let Some(f) = f
                && let Some(first) = seen.insert(*f, i)
            {
                return Err(format!("columns {:?} and {:?} both hold {}", header[first], header[i], f.name()));
            }
        }
        Ok(Layout { header, columns })
    }

    /// The check a row of a file with lines belongs to: its store and check cells; `None` in any
    /// other file, and for a row without a check id (it is a check of its own).
    pub fn check_of<'a>(&self, cells: &'a [String]) -> Option<(&'a str, &'a str)> {
        if !self.lines() {
            return None;
        }
        let cell = |field| {
            let i = self.columns.iter().position(|f| *f == Some(field));
            i.and_then(|i| cells.get(i)).map_or("", |c| c.trim())
        };
        Some((cell(Field::Store), cell(Field::CheckId))).filter(|(_, check)| !check.is_empty())
    }

    /// The column holding `field`, by its name in the file.
    pub fn column_of(&self, field: Field) -> Option<&str> {
        self.columns.iter().position(|f| *f == Some(field)).map(|i| self.header[i].as_str())
    }

    /// The file column a field path of the client service names ("consents[0].changed_at" ->
    /// the consent date column), or "row" when no column holds it.
    pub fn column_for_path(&self, path: &str) -> String {
        let name = path.split(['.', '[']).next().unwrap_or(path);
        let field = match name {
            "consents" => Some(Field::ConsentChangedAt),
            other => Field::from_name(other),
        };
        field.and_then(|f| self.column_of(f)).unwrap_or("row").to_string()
    }
}

/// Checks a mapping given with an upload: every target a field, every key a column name.
pub fn check_mapping(mapping: &BTreeMap<String, String>, v: &mut Violations) {
    for (column, field) in mapping {
        if column.trim().is_empty() {
            v.add("header.column_mapping", "has an empty column name");
        }
        if Field::from_name(field).is_none() {
            v.add(
                format!("header.column_mapping[{column}]"),
                format!("{field:?} is not a field; the fields are {}", field_names()),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(cells: &[&str]) -> Vec<String> {
        cells.iter().map(|c| c.to_string()).collect()
    }

    #[test]
    fn the_standard_lithuanian_layout_is_recognised() {
        let h =
            header(&["Vardas", "Pavardė", "El. paštas", "Telefonas", "Gimimo data", "Adresas", "Miestas", "Pastabos"]);
        let layout = Layout::read(&h, &BTreeMap::new()).expect("standard layout");
        assert_eq!(layout.columns[2], Some(Field::Email));
        assert_eq!(layout.column_for_path("birth_date"), "Gimimo data");
        assert_eq!(layout.column_for_path("consents[0].changed_at"), "row");
    }

    #[test]
    fn other_languages_and_a_mapping_work_and_missing_columns_are_named() {
        let ru = header(&["Имя", "Фамилия", "Телефон"]);
        assert!(Layout::read(&ru, &BTreeMap::new()).is_ok());
        let own = header(&["Given", "Family", "Mail", "Extra"]);
        let err = Layout::read(&own, &BTreeMap::new()).expect_err("unknown headers");
        assert!(err.contains("first_name, last_name, email or phone"), "{err}");
        let mapping: BTreeMap<String, String> = [("Given", "first_name"), ("Family", "last_name"), ("Mail", "email")]
            .map(|(a, b)| (a.into(), b.into()))
            .into();
        let layout = Layout::read(&own, &mapping).expect("mapped");
        assert_eq!(layout.columns[3], None, "an unmapped column is ignored");
        let cards = header(&["Kortelės numeris", "El. paštas", "Išdavimo data", "Parduotuvė"]);
        let layout = Layout::read_cards(&cards, &BTreeMap::new()).expect("a card file");
        assert_eq!(
            layout.columns,
            [Some(Field::CardNumber), Some(Field::Email), Some(Field::IssuedAt), Some(Field::Store)]
        );
        let no_holder = header(&["Kortelės numeris", "Išdavimo data"]);
        assert!(
            Layout::read_cards(&no_holder, &BTreeMap::new())
                .expect_err("no holder")
                .contains("client id, e-mail or phone")
        );
        let twice = header(&["Vardas", "Vardas", "Pavardė", "Email"]);
        assert!(Layout::read(&twice, &BTreeMap::new()).expect_err("twice").contains("both hold first_name"));
    }
}
