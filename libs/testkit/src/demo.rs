//! Deterministic demo data: one retail chain with stores in Lithuania, Poland, Romania and among
//! Russian-speaking customers, and clients with realistic names, phones in the formats cashiers
//! type, emails, birthdays and consents. The same seed always gives the same data, on any machine.
//!
//! `loyalty dev up --demo` loads it through the API: stores, clients with consents, a card each, and
//! purchases of every fourth client.
use time::{Date, Month};

/// A small, fast, portable PRNG (SplitMix64): the data must not change with a crate's version.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// 0..n (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Country {
    Lithuania,
    Poland,
    Romania,
    Russia,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DemoStore {
    pub id: String,
    pub name: String,
    pub city: String,
    pub country: Country,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DemoGender {
    Female,
    Male,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DemoConsent {
    Subscribed,
    Unsubscribed,
    Unknown,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DemoClient {
    /// Position in the generated sequence (stable across runs).
    pub index: u64,
    pub first_name: String,
    pub last_name: String,
    /// Patronymic for Russian names.
    pub middle_name: String,
    pub gender: DemoGender,
    pub email: String,
    /// As a cashier typed it: national or international, with or without punctuation.
    pub phone: String,
    pub birth_date: Option<Date>,
    pub city: String,
    pub store_id: String,
    pub email_consent: DemoConsent,
    pub sms_consent: DemoConsent,
    pub personal_data_consent: bool,
}

/// The demo tenant.
pub const TENANT: &str = "demo";

struct Names {
    female_first: &'static [&'static str],
    male_first: &'static [&'static str],
    /// (male form, female form)
    last: &'static [(&'static str, &'static str)],
    cities: &'static [&'static str],
    email_domain: &'static str,
}

const LT: Names = Names {
    female_first: &[
        "Ona", "Rūta", "Eglė", "Gintarė", "Aušra", "Žaneta", "Jūratė", "Dalia", "Greta", "Austėja", "Ieva", "Kotryna",
        "Gabija", "Urtė", "Emilija", "Lina", "Vaida", "Rasa", "Jurgita", "Ingrida", "Dovilė", "Sigita",
    ],
    male_first: &[
        "Šarūnas",
        "Jonas",
        "Mantas",
        "Tomas",
        "Žilvinas",
        "Andrius",
        "Darius",
        "Vytautas",
        "Linas",
        "Mindaugas",
        "Tadas",
        "Paulius",
        "Rokas",
        "Lukas",
        "Dominykas",
        "Kęstutis",
        "Gediminas",
        "Algirdas",
        "Rimantas",
        "Arūnas",
    ],
    last: &[
        ("Kazlauskas", "Kazlauskienė"),
        ("Jankauskas", "Jankauskienė"),
        ("Petrauskas", "Petrauskaitė"),
        ("Stankevičius", "Stankevičiūtė"),
        ("Vasiliauskas", "Vasiliauskienė"),
        ("Žukauskas", "Žukauskaitė"),
        ("Butkus", "Butkutė"),
        ("Paulauskas", "Paulauskienė"),
        ("Urbonas", "Urbonienė"),
        ("Kavaliauskas", "Kavaliauskaitė"),
        ("Baranauskas", "Baranauskienė"),
        ("Pocius", "Pocienė"),
        ("Sakalauskas", "Sakalauskaitė"),
        ("Navickas", "Navickienė"),
        ("Žemaitis", "Žemaitytė"),
        ("Ramanauskas", "Ramanauskienė"),
        ("Savickas", "Savickaitė"),
        ("Rimkus", "Rimkutė"),
        ("Šimkus", "Šimkienė"),
        ("Mockus", "Mockutė"),
        ("Adomaitis", "Adomaitienė"),
        ("Budrys", "Budrytė"),
        ("Grigas", "Grigaitė"),
        ("Lukoševičius", "Lukoševičienė"),
        ("Marcinkevičius", "Marcinkevičiūtė"),
        ("Balčiūnas", "Balčiūnienė"),
        ("Vaitkus", "Vaitkutė"),
        ("Dambrauskas", "Dambrauskienė"),
        ("Sabaliauskas", "Sabaliauskaitė"),
        ("Kairys", "Kairienė"),
    ],
    cities: &["Vilnius", "Kaunas", "Klaipėda", "Šiauliai", "Panevėžys"],
    email_domain: "example.lt",
};

const PL: Names = Names {
    female_first: &[
        "Anna",
        "Małgorzata",
        "Katarzyna",
        "Agnieszka",
        "Zofia",
        "Joanna",
        "Łucja",
        "Magdalena",
        "Ewa",
        "Barbara",
        "Monika",
        "Dorota",
        "Aleksandra",
        "Natalia",
        "Karolina",
        "Beata",
        "Justyna",
        "Paulina",
        "Weronika",
        "Julia",
    ],
    male_first: &[
        "Piotr",
        "Krzysztof",
        "Paweł",
        "Łukasz",
        "Michał",
        "Tomasz",
        "Jakub",
        "Grzegorz",
        "Andrzej",
        "Marcin",
        "Marek",
        "Adam",
        "Kamil",
        "Mateusz",
        "Rafał",
        "Dariusz",
        "Wojciech",
        "Szymon",
        "Bartosz",
        "Zbigniew",
    ],
    last: &[
        ("Nowak", "Nowak"),
        ("Kowalski", "Kowalska"),
        ("Wiśniewski", "Wiśniewska"),
        ("Wójcik", "Wójcik"),
        ("Kamiński", "Kamińska"),
        ("Lewandowski", "Lewandowska"),
        ("Zieliński", "Zielińska"),
        ("Szymański", "Szymańska"),
        ("Woźniak", "Woźniak"),
        ("Dąbrowski", "Dąbrowska"),
        ("Kozłowski", "Kozłowska"),
        ("Jankowski", "Jankowska"),
        ("Mazur", "Mazur"),
        ("Kwiatkowski", "Kwiatkowska"),
        ("Krawczyk", "Krawczyk"),
        ("Piotrowski", "Piotrowska"),
        ("Grabowski", "Grabowska"),
        ("Nowakowski", "Nowakowska"),
        ("Pawłowski", "Pawłowska"),
        ("Michalski", "Michalska"),
        ("Nowicki", "Nowicka"),
        ("Adamczyk", "Adamczyk"),
        ("Dudek", "Dudek"),
        ("Zając", "Zając"),
        ("Wieczorek", "Wieczorek"),
        ("Jabłoński", "Jabłońska"),
        ("Król", "Król"),
        ("Majewski", "Majewska"),
        ("Olszewski", "Olszewska"),
        ("Jaworski", "Jaworska"),
    ],
    cities: &["Warszawa", "Kraków", "Łódź", "Wrocław", "Gdańsk"],
    email_domain: "example.pl",
};

const RO: Names = Names {
    female_first: &[
        "Maria",
        "Elena",
        "Ioana",
        "Andreea",
        "Ștefania",
        "Mihaela",
        "Alexandra",
        "Cristina",
        "Ana",
        "Gabriela",
        "Daniela",
        "Raluca",
        "Simona",
        "Irina",
        "Loredana",
        "Roxana",
        "Bianca",
        "Diana",
        "Oana",
        "Carmen",
    ],
    male_first: &[
        "Andrei",
        "Mihai",
        "Ștefan",
        "Alexandru",
        "Ion",
        "Gheorghe",
        "Vlad",
        "Răzvan",
        "Constantin",
        "Adrian",
        "Florin",
        "Cătălin",
        "Bogdan",
        "Cristian",
        "Marius",
        "Dan",
        "Ionuț",
        "Sorin",
        "Tudor",
        "Radu",
    ],
    last: &[
        ("Popescu", "Popescu"),
        ("Ionescu", "Ionescu"),
        ("Popa", "Popa"),
        ("Rădulescu", "Rădulescu"),
        ("Stoica", "Stoica"),
        ("Dumitru", "Dumitru"),
        ("Constantinescu", "Constantinescu"),
        ("Munteanu", "Munteanu"),
        ("Stan", "Stan"),
        ("Gheorghe", "Gheorghe"),
        ("Matei", "Matei"),
        ("Ciobanu", "Ciobanu"),
        ("Rusu", "Rusu"),
        ("Marin", "Marin"),
        ("Tudor", "Tudor"),
        ("Moldovan", "Moldovan"),
        ("Barbu", "Barbu"),
        ("Nistor", "Nistor"),
        ("Florea", "Florea"),
        ("Dinu", "Dinu"),
        ("Lungu", "Lungu"),
        ("Ene", "Ene"),
        ("Sârbu", "Sârbu"),
        ("Toma", "Toma"),
        ("Cristea", "Cristea"),
        ("Mocanu", "Mocanu"),
        ("Oprea", "Oprea"),
        ("Voicu", "Voicu"),
        ("Dobre", "Dobre"),
        ("Țurcanu", "Țurcanu"),
    ],
    cities: &["București", "Cluj-Napoca", "Iași", "Timișoara", "Constanța"],
    email_domain: "example.ro",
};

const RU: Names = Names {
    female_first: &[
        "Анна",
        "Мария",
        "Елена",
        "Ольга",
        "Татьяна",
        "Наталья",
        "Юлия",
        "Светлана",
        "Ирина",
        "Екатерина",
        "Дарья",
        "Ксения",
        "Алина",
        "Виктория",
        "Марина",
        "Людмила",
        "Галина",
        "Полина",
        "Вера",
        "Софья",
    ],
    male_first: &[
        "Александр",
        "Дмитрий",
        "Сергей",
        "Андрей",
        "Алексей",
        "Иван",
        "Михаил",
        "Николай",
        "Евгений",
        "Владимир",
        "Максим",
        "Павел",
        "Артём",
        "Игорь",
        "Олег",
        "Роман",
        "Денис",
        "Юрий",
        "Виктор",
        "Константин",
    ],
    last: &[
        ("Иванов", "Иванова"),
        ("Смирнов", "Смирнова"),
        ("Кузнецов", "Кузнецова"),
        ("Попов", "Попова"),
        ("Соколов", "Соколова"),
        ("Лебедев", "Лебедева"),
        ("Козлов", "Козлова"),
        ("Новиков", "Новикова"),
        ("Морозов", "Морозова"),
        ("Петров", "Петрова"),
        ("Волков", "Волкова"),
        ("Соловьёв", "Соловьёва"),
        ("Васильев", "Васильева"),
        ("Зайцев", "Зайцева"),
        ("Павлов", "Павлова"),
        ("Семёнов", "Семёнова"),
        ("Голубев", "Голубева"),
        ("Виноградов", "Виноградова"),
        ("Богданов", "Богданова"),
        ("Воробьёв", "Воробьёва"),
        ("Фёдоров", "Фёдорова"),
        ("Михайлов", "Михайлова"),
        ("Беляев", "Беляева"),
        ("Тарасов", "Тарасова"),
        ("Белов", "Белова"),
        ("Комаров", "Комарова"),
        ("Орлов", "Орлова"),
        ("Киселёв", "Киселёва"),
        ("Макаров", "Макарова"),
        ("Жуков", "Жукова"),
    ],
    cities: &["Москва", "Санкт-Петербург", "Казань", "Новосибирск", "Калининград"],
    email_domain: "example.ru",
};

/// (male patronymic, female patronymic)
const RU_PATRONYMICS: &[(&str, &str)] = &[
    ("Александрович", "Александровна"),
    ("Сергеевич", "Сергеевна"),
    ("Иванович", "Ивановна"),
    ("Дмитриевич", "Дмитриевна"),
    ("Николаевич", "Николаевна"),
];

fn names(country: Country) -> &'static Names {
    match country {
        Country::Lithuania => &LT,
        Country::Poland => &PL,
        Country::Romania => &RO,
        Country::Russia => &RU,
    }
}

const COUNTRIES: [Country; 4] = [Country::Lithuania, Country::Poland, Country::Romania, Country::Russia];

/// The demo chain's stores: `per_country` in each country.
pub fn stores(per_country: usize) -> Vec<DemoStore> {
    let mut out = Vec::new();
    for country in COUNTRIES {
        let n = names(country);
        let code = match country {
            Country::Lithuania => "LT",
            Country::Poland => "PL",
            Country::Romania => "RO",
            Country::Russia => "RU",
        };
        for i in 0..per_country {
            let city = n.cities[i % n.cities.len()];
            out.push(DemoStore {
                id: format!("{code}-{:02}", i + 1),
                name: format!("{city} {}", i / n.cities.len() + 1),
                city: city.to_string(),
                country,
            });
        }
    }
    out
}

/// Latin letters for an email's local part: diacritics dropped, Cyrillic transliterated.
pub fn ascii_fold(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        let folded: &str = match c {
            'ą' | 'ă' | 'â' | 'а' => "a",
            'č' | 'ć' | 'ц' => "c",
            'ę' | 'ė' | 'е' | 'э' => "e",
            'į' | 'î' | 'и' | 'ы' => "i",
            'š' | 'ś' | 'ș' | 'с' => "s",
            'ų' | 'ū' | 'у' => "u",
            'ž' | 'ź' | 'ż' | 'з' => "z",
            'ł' | 'л' => "l",
            'ń' | 'н' => "n",
            'ó' | 'о' => "o",
            'ț' | 'т' => "t",
            'б' => "b",
            'в' => "v",
            'г' => "g",
            'д' => "d",
            'ё' => "yo",
            'ж' => "zh",
            'й' => "y",
            'к' => "k",
            'м' => "m",
            'п' => "p",
            'р' => "r",
            'ф' => "f",
            'х' => "kh",
            'ч' => "ch",
            'ш' => "sh",
            'щ' => "shch",
            'ю' => "yu",
            'я' => "ya",
            'ь' | 'ъ' => "",
            c if c.is_ascii_alphanumeric() => {
                out.push(c.to_ascii_lowercase());
                continue;
            }
            c if c.is_uppercase() => {
                out.push_str(&ascii_fold(&c.to_lowercase().to_string()));
                continue;
            }
            _ => "",
        };
        out.push_str(folded);
    }
    out
}

/// A mobile number as a cashier might type it; `index` makes it unique.
fn phone(country: Country, index: u64, rng: &mut Rng) -> String {
    let n = index % 10_000_000;
    match (country, rng.below(3)) {
        (Country::Lithuania, 0) => format!("+370 6{:02} {:05}", n / 100_000, n % 100_000),
        (Country::Lithuania, 1) => format!("8 (6{:02}) {:05}", n / 100_000, n % 100_000),
        (Country::Lithuania, _) => format!("3706{n:07}"),
        (Country::Poland, 0) => format!("+48 5{:02} {:03} {:03}", n / 1_000_000 % 100, n / 1000 % 1000, n % 1000),
        (Country::Poland, _) => format!("+485{n:08}"),
        (Country::Romania, 0) => format!("+40 7{:02} {:03} {:03}", n / 1_000_000 % 100, n / 1000 % 1000, n % 1000),
        (Country::Romania, _) => format!("+407{n:08}"),
        (Country::Russia, 0) => {
            format!("+7 (9{:02}) {:03}-{:02}-{:02}", n / 100_000 % 100, n / 100 % 1000, n / 10 % 100, n % 100)
        }
        (Country::Russia, _) => format!("+79{n:09}"),
    }
}

fn consent(rng: &mut Rng) -> DemoConsent {
    match rng.below(10) {
        0..=5 => DemoConsent::Subscribed,
        6..=7 => DemoConsent::Unsubscribed,
        _ => DemoConsent::Unknown,
    }
}

/// Client number `index` of the demo chain generated from `seed`: the same inputs give the same
/// client, so a million clients can be generated in parallel chunks.
pub fn client(seed: u64, index: u64, stores: &[DemoStore]) -> DemoClient {
    let mut rng = Rng::new(seed ^ index.wrapping_mul(0xA24B_AED4_963E_E407));
    let store = rng.pick(stores).clone();
    let n = names(store.country);
    let gender = if rng.chance(55) { DemoGender::Female } else { DemoGender::Male };
    let first = match gender {
        DemoGender::Female => *rng.pick(n.female_first),
        DemoGender::Male => *rng.pick(n.male_first),
    };
    let (male_last, female_last) = *rng.pick(n.last);
    let last = if gender == DemoGender::Female { female_last } else { male_last };
    let middle = if store.country == Country::Russia {
        let (m, f) = *rng.pick(RU_PATRONYMICS);
        if gender == DemoGender::Female { f } else { m }
    } else {
        ""
    };
    let email = if rng.chance(85) {
        format!("{}.{}{}@{}", ascii_fold(first), ascii_fold(last), index, n.email_domain)
    } else {
        String::new()
    };
    let birth_date = if rng.chance(80) {
        let year = 1950 + rng.below(56) as i32;
        let month = Month::try_from(1 + rng.below(12) as u8).unwrap_or(Month::January);
        let day = 1 + rng.below(28) as u8;
        Date::from_calendar_date(year, month, day).ok()
    } else {
        None
    };
    let phone = phone(store.country, index, &mut rng);
    DemoClient {
        index,
        first_name: first.to_string(),
        last_name: last.to_string(),
        middle_name: middle.to_string(),
        gender,
        email,
        phone,
        birth_date,
        city: store.city.clone(),
        store_id: store.id,
        email_consent: consent(&mut rng),
        sms_consent: consent(&mut rng),
        personal_data_consent: rng.chance(90),
    }
}

/// The first `count` demo clients.
pub fn clients(seed: u64, count: u64, stores: &[DemoStore]) -> impl Iterator<Item = DemoClient> + '_ {
    (0..count).map(move |i| client(seed, i, stores))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_clients() {
        let s = stores(3);
        let a: Vec<_> = clients(7, 200, &s).collect();
        let b: Vec<_> = clients(7, 200, &s).collect();
        assert_eq!(a, b);
        let c: Vec<_> = clients(8, 200, &s).collect();
        assert_ne!(a, c);
    }

    #[test]
    fn every_language_appears_with_its_letters() {
        let s = stores(2);
        let all: Vec<_> = clients(1, 2000, &s).collect();
        let text: String = all.iter().map(|c| format!("{} {} ", c.first_name, c.last_name)).collect();
        for letter in ['Š', 'ū', 'ł', 'Ș', 'Ж', 'Ю', 'ą', 'Ț'] {
            let lower = letter.to_lowercase().to_string();
            assert!(text.contains(letter) || text.contains(&lower), "no {letter} in the names");
        }
        for country in COUNTRIES {
            assert!(all.iter().any(|c| { s.iter().any(|st| st.id == c.store_id && st.country == country) }));
        }
        let patronymics = all.iter().filter(|c| !c.middle_name.is_empty()).count();
        assert!(patronymics > 0, "Russian clients have patronymics");
    }

    #[test]
    fn emails_are_ascii_and_unique_and_phones_vary_in_format() {
        let s = stores(2);
        let all: Vec<_> = clients(3, 5000, &s).collect();
        let emails: std::collections::HashSet<_> =
            all.iter().filter(|c| !c.email.is_empty()).map(|c| c.email.clone()).collect();
        assert_eq!(emails.len(), all.iter().filter(|c| !c.email.is_empty()).count());
        assert!(emails.iter().all(|e| e.is_ascii() && e.contains('@')));
        assert!(all.iter().any(|c| c.phone.starts_with("8 (6")), "national LT format");
        assert!(all.iter().any(|c| c.phone.starts_with("+370 6")), "spaced international format");
        assert!(all.iter().any(|c| c.phone.starts_with("+7 (9")), "Russian format");
    }

    #[test]
    fn ascii_fold_handles_every_script() {
        assert_eq!(ascii_fold("Šarūnas"), "sarunas");
        assert_eq!(ascii_fold("Łukasz"), "lukasz");
        assert_eq!(ascii_fold("Ștefan"), "stefan");
        assert_eq!(ascii_fold("Юлия"), "yuliya");
    }
}
