//! `loyalty-card [serve|migrate] [--config FILE]`
fn main() -> std::process::ExitCode {
    loyalty_platform::service_main::run(loyalty_platform::service_main::ServiceSpec {
        name: loyalty_card::NAME,
        migrations: loyalty_card::migrations,
        register: |settings, services| Box::pin(loyalty_card::register(settings, services)),
    })
}
