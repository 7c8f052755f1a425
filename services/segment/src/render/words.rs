//! The dashboard's words in English, Lithuanian, Russian, Polish and Romanian, and numbers and
//! money written the way each language writes them.

/// A language of the page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Language {
    En,
    Lt,
    Ru,
    Pl,
    Ro,
}

impl Language {
    /// "lt", "ru-RU" …; English for any other. Empty: the language of the tenant's region.
    pub fn of(code: &str, region: &str) -> Language {
        let code = if code.trim().is_empty() { region } else { code };
        match code.split(['-', '_']).next().unwrap_or("").to_lowercase().as_str() {
            "lt" => Language::Lt,
            "ru" => Language::Ru,
            "pl" => Language::Pl,
            "ro" => Language::Ro,
            _ => Language::En,
        }
    }

    pub fn code(self) -> &'static str {
        ["en", "lt", "ru", "pl", "ro"][self as usize]
    }

    /// The word for `key`, English when the table has none.
    pub fn word(self, key: &str) -> &'static str {
        WORDS.iter().find(|(k, _)| *k == key).map(|(_, w)| w[self as usize]).unwrap_or("?")
    }

    /// A whole number with the language's thousands separator.
    pub fn number(self, n: i64) -> String {
        let sep = if self == Language::En { "," } else { "\u{a0}" };
        let digits = n.unsigned_abs().to_string();
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push_str(sep);
            }
            out.push(c);
        }
        if n < 0 { format!("−{out}") } else { out }
    }

    /// Money in minor units of `currency`, as the language writes it ("1 234,50 €", "€1,234.50").
    pub fn money(self, minor: i64, currency: &str) -> String {
        let sign = if minor < 0 { "−" } else { "" };
        let whole = format!("{sign}{}", self.number((minor.unsigned_abs() / 100) as i64));
        let cents = minor.unsigned_abs() % 100;
        let symbol = match currency {
            "EUR" => "€",
            "PLN" => "zł",
            "RON" => "lei",
            "RUB" => "₽",
            "USD" => "$",
            "GBP" => "£",
            other => other,
        };
        match self {
            Language::En => format!("{sign}{symbol}{}.{cents:02}", &whole[sign.len()..]),
            _ => format!("{whole},{cents:02}\u{a0}{symbol}"),
        }
    }
}

/// Every word of the page: key, then English, Lithuanian, Russian, Polish, Romanian.
const WORDS: &[(&str, [&str; 5])] = &[
    ("title", ["CRM dashboard", "CRM suvestinė", "CRM-панель", "Pulpit CRM", "Panou CRM"]),
    ("period", ["Period", "Laikotarpis", "Период", "Okres", "Perioada"]),
    ("computed", ["Computed", "Apskaičiuota", "Рассчитано", "Obliczono", "Calculat"]),
    ("earlier", ["30 days earlier", "Prieš 30 dienų", "30 дней назад", "30 dni wcześniej", "Acum 30 de zile"]),
    ("total_clients", ["All clients", "Visi klientai", "Все клиенты", "Wszyscy klienci", "Toți clienții"]),
    ("active", ["Active", "Aktyvūs", "Активные", "Aktywni", "Activi"]),
    ("vip", ["VIP", "VIP", "VIP", "VIP", "VIP"]),
    ("sleeping", ["Sleeping", "Miegantys", "Спящие", "Uśpieni", "Inactivi"]),
    ("new", ["New", "Nauji", "Новые", "Nowi", "Noi"]),
    (
        "email_subscribed",
        ["Email subscribed", "El. paštas: sutiko", "Email: подписаны", "E-mail: zapisani", "Email: abonați"],
    ),
    (
        "email_unsubscribed",
        ["Email unsubscribed", "El. paštas: atsisakė", "Email: отписаны", "E-mail: wypisani", "Email: neabonați"],
    ),
    (
        "email_unknown",
        ["Email unknown", "El. paštas: nežinoma", "Email: неизвестно", "E-mail: nieznany", "Email: necunoscut"],
    ),
    ("sms_subscribed", ["SMS subscribed", "SMS: sutiko", "SMS: подписаны", "SMS: zapisani", "SMS: abonați"]),
    ("sms_unsubscribed", ["SMS unsubscribed", "SMS: atsisakė", "SMS: отписаны", "SMS: wypisani", "SMS: neabonați"]),
    ("sms_unknown", ["SMS unknown", "SMS: nežinoma", "SMS: неизвестно", "SMS: nieznany", "SMS: necunoscut"]),
    ("clients_section", ["Clients", "Klientai", "Клиенты", "Klienci", "Clienți"]),
    (
        "email_over_time",
        [
            "Email subscription over time",
            "El. pašto sutikimai laike",
            "Подписка на email во времени",
            "Subskrypcja e-mail w czasie",
            "Abonare email în timp",
        ],
    ),
    (
        "sms_over_time",
        [
            "SMS subscription over time",
            "SMS sutikimai laike",
            "Подписка на SMS во времени",
            "Subskrypcja SMS w czasie",
            "Abonare SMS în timp",
        ],
    ),
    (
        "email_by_gender",
        [
            "Email subscription by gender",
            "El. pašto sutikimai pagal lytį",
            "Подписка на email по полу",
            "Subskrypcja e-mail wg płci",
            "Abonare email după sex",
        ],
    ),
    (
        "sms_by_gender",
        [
            "SMS subscription by gender",
            "SMS sutikimai pagal lytį",
            "Подписка на SMS по полу",
            "Subskrypcja SMS wg płci",
            "Abonare SMS după sex",
        ],
    ),
    (
        "identified_over_time",
        [
            "Identified vs unidentified",
            "Identifikuoti ir neidentifikuoti",
            "Идентифицированные и нет",
            "Zidentyfikowani i niezidentyfikowani",
            "Identificați vs neidentificați",
        ],
    ),
    (
        "behaviour_section",
        [
            "Buying behaviour",
            "Pirkimo elgsena",
            "Покупательское поведение",
            "Zachowania zakupowe",
            "Comportament de cumpărare",
        ],
    ),
    (
        "prospects_vs_spenders",
        [
            "Prospects vs spenders",
            "Potencialūs ir pirkę",
            "Потенциальные и покупатели",
            "Potencjalni i kupujący",
            "Potențiali vs cumpărători",
        ],
    ),
    ("activity", ["Activity", "Aktyvumas", "Активность", "Aktywność", "Activitate"]),
    ("spenders_section", ["Spenders", "Pirkėjai", "Покупатели", "Kupujący", "Cumpărători"]),
    (
        "spenders_by_value",
        [
            "Spenders by purchase value",
            "Pirkėjai pagal vertę",
            "Покупатели по сумме",
            "Kupujący wg wartości",
            "Cumpărători după valoare",
        ],
    ),
    (
        "spenders_by_frequency",
        [
            "Spenders by purchase frequency",
            "Pirkėjai pagal dažnumą",
            "Покупатели по частоте",
            "Kupujący wg częstotliwości",
            "Cumpărători după frecvență",
        ],
    ),
    ("big_from", ["BIG from", "DIDELI nuo", "КРУПНЫЕ от", "DUZI od", "MARI de la"]),
    ("medium_from", ["MEDIUM from", "VIDUTINIAI nuo", "СРЕДНИЕ от", "ŚREDNI od", "MEDII de la"]),
    (
        "average_purchases",
        [
            "Frequent: more purchases than",
            "Dažni: daugiau pirkimų nei",
            "Частые: больше покупок, чем",
            "Częsci: więcej zakupów niż",
            "Frecvenți: mai multe cumpărări decât",
        ],
    ),
    (
        "tags_section",
        [
            "Top 10 tags today",
            "10 dažniausių žymų šiandien",
            "Топ-10 тегов сегодня",
            "10 najczęstszych tagów dziś",
            "Top 10 etichete azi",
        ],
    ),
    ("rfm_section", ["RFM grid", "RFM tinklelis", "RFM-сетка", "Siatka RFM", "Grila RFM"]),
    ("recency", ["Recency", "Naujumas", "Давность", "Aktualność", "Recență"]),
    (
        "frequency_monetary",
        [
            "Frequency & monetary",
            "Dažnumas ir vertė",
            "Частота и сумма",
            "Częstotliwość i wartość",
            "Frecvență și valoare",
        ],
    ),
    (
        "customers_section",
        [
            "Customers: new vs returning",
            "Klientai: nauji ir grįžtantys",
            "Клиенты: новые и вернувшиеся",
            "Klienci: nowi i powracający",
            "Clienți: noi vs recurenți",
        ],
    ),
    (
        "orders_by_type",
        [
            "Orders by customer type",
            "Užsakymai pagal kliento tipą",
            "Заказы по типу клиента",
            "Zamówienia wg typu klienta",
            "Comenzi după tipul clientului",
        ],
    ),
    (
        "revenue_by_type",
        [
            "Revenue by customer type",
            "Pajamos pagal kliento tipą",
            "Выручка по типу клиента",
            "Przychód wg typu klienta",
            "Venituri după tipul clientului",
        ],
    ),
    (
        "weekday_table",
        [
            "Days of the week by customer type",
            "Savaitės dienos pagal kliento tipą",
            "Дни недели по типу клиента",
            "Dni tygodnia wg typu klienta",
            "Zilele săptămânii după tipul clientului",
        ],
    ),
    (
        "top_products",
        [
            "Most bought products",
            "Dažniausiai perkamos prekės",
            "Самые покупаемые товары",
            "Najczęściej kupowane produkty",
            "Cele mai cumpărate produse",
        ],
    ),
    ("orders", ["Orders", "Užsakymai", "Заказы", "Zamówienia", "Comenzi"]),
    ("revenue", ["Revenue", "Pajamos", "Выручка", "Przychód", "Venituri"]),
    (
        "revenue_per_day",
        [
            "Avg revenue per day",
            "Vid. pajamos per dieną",
            "Ср. выручка в день",
            "Śr. przychód dziennie",
            "Venit mediu pe zi",
        ],
    ),
    ("average_basket", ["Average basket", "Vid. krepšelis", "Средний чек", "Średni koszyk", "Coș mediu"]),
    (
        "items_per_order",
        ["Items per order", "Prekių užsakyme", "Товаров в заказе", "Sztuk w zamówieniu", "Articole pe comandă"],
    ),
    ("value_index", ["Value index", "Vertės indeksas", "Индекс ценности", "Wskaźnik wartości", "Indice de valoare"]),
    (
        "second_purchase",
        [
            "Second purchase rate",
            "Antro pirkimo dalis",
            "Доля вторых покупок",
            "Odsetek drugich zakupów",
            "Rata celei de-a doua cumpărări",
        ],
    ),
    (
        "days_to_second",
        [
            "Median days to the second purchase",
            "Dienų iki antro pirkimo mediana",
            "Медиана дней до второй покупки",
            "Mediana dni do drugiego zakupu",
            "Mediana zilelor până la a doua cumpărare",
        ],
    ),
    ("product", ["Product", "Prekė", "Товар", "Produkt", "Produs"]),
    ("quantity", ["Quantity", "Kiekis", "Количество", "Ilość", "Cantitate"]),
    ("customer_type", ["Customer type", "Kliento tipas", "Тип клиента", "Typ klienta", "Tipul clientului"]),
    ("new_customers", ["New", "Nauji", "Новые", "Nowi", "Noi"]),
    ("returning_customers", ["Returning", "Grįžtantys", "Вернувшиеся", "Powracający", "Recurenți"]),
    ("subscribed", ["subscribed", "sutiko", "подписаны", "zapisani", "abonați"]),
    ("unsubscribed", ["unsubscribed", "atsisakė", "отписаны", "wypisani", "neabonați"]),
    ("unknown", ["unknown", "nežinoma", "неизвестно", "nieznany", "necunoscut"]),
    ("identified", ["identified", "identifikuoti", "идентифицированы", "zidentyfikowani", "identificați"]),
    (
        "unidentified",
        ["unidentified", "neidentifikuoti", "не идентифицированы", "niezidentyfikowani", "neidentificați"],
    ),
    ("female", ["women", "moterys", "женщины", "kobiety", "femei"]),
    ("male", ["men", "vyrai", "мужчины", "mężczyźni", "bărbați"]),
    ("other", ["other", "kita", "другое", "inne", "altul"]),
    ("refused", ["refused", "nenurodė", "отказались", "odmowa", "refuzat"]),
    ("prospects", ["prospects", "potencialūs", "потенциальные", "potencjalni", "potențiali"]),
    ("spenders", ["spenders", "pirkę", "покупатели", "kupujący", "cumpărători"]),
    ("low_risk", ["low risk", "maža rizika", "низкий риск", "niskie ryzyko", "risc scăzut"]),
    ("high_risk", ["high risk", "didelė rizika", "высокий риск", "wysokie ryzyko", "risc ridicat"]),
    ("big", ["BIG", "DIDELI", "КРУПНЫЕ", "DUZI", "MARI"]),
    ("medium", ["MEDIUM", "VIDUTINIAI", "СРЕДНИЕ", "ŚREDNI", "MEDII"]),
    ("small", ["SMALL", "MAŽI", "МЕЛКИЕ", "MALI", "MICI"]),
    ("frequent", ["frequent", "dažni", "частые", "częsci", "frecvenți"]),
    ("repeat", ["repeat", "pakartotiniai", "повторные", "powracający", "recurenți"]),
    ("one_time", ["one-time", "vienkartiniai", "разовые", "jednorazowi", "o singură dată"]),
    ("weekday_1", ["Monday", "Pirmadienis", "Понедельник", "Poniedziałek", "Luni"]),
    ("weekday_2", ["Tuesday", "Antradienis", "Вторник", "Wtorek", "Marți"]),
    ("weekday_3", ["Wednesday", "Trečiadienis", "Среда", "Środa", "Miercuri"]),
    ("weekday_4", ["Thursday", "Ketvirtadienis", "Четверг", "Czwartek", "Joi"]),
    ("weekday_5", ["Friday", "Penktadienis", "Пятница", "Piątek", "Vineri"]),
    ("weekday_6", ["Saturday", "Šeštadienis", "Суббота", "Sobota", "Sâmbătă"]),
    ("weekday_7", ["Sunday", "Sekmadienis", "Воскресенье", "Niedziela", "Duminică"]),
    ("days", ["days", "d.", "дн.", "dni", "zile"]),
    ("look_back", ["Look-back, days", "Laikotarpis, dienos", "Период, дней", "Okres, dni", "Perioadă, zile"]),
    (
        "no_data",
        [
            "No data in this period",
            "Šiuo laikotarpiu duomenų nėra",
            "Нет данных за период",
            "Brak danych w tym okresie",
            "Fără date în această perioadă",
        ],
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_word_is_there_in_every_language_and_money_is_written_the_local_way() {
        for (key, words) in WORDS {
            assert!(words.iter().all(|w| !w.is_empty()), "{key}");
        }
        assert_eq!(Language::of("", "LT"), Language::Lt);
        assert_eq!(Language::of("pl-PL", "LT"), Language::Pl);
        assert_eq!(Language::En.money(12_345_678, "EUR"), "€123,456.78");
        assert_eq!(Language::Lt.money(12_345_678, "EUR"), "123\u{a0}456,78\u{a0}€");
        assert_eq!(Language::Pl.money(-505, "PLN"), "−5,05\u{a0}zł");
        assert_eq!(Language::En.number(1_000_000), "1,000,000");
        assert_eq!(Language::En.money(-50, "USD"), "−$0.50");
    }
}
