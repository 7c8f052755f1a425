//! `loyalty-ledger [serve|migrate] [--config FILE]`
fn main() -> std::process::ExitCode {
    loyalty_platform::service_main::run(loyalty_platform::service_main::ServiceSpec {
        name: loyalty_ledger::NAME,
        migrations: loyalty_ledger::migrations,
        register: |settings, services| Box::pin(loyalty_ledger::register(settings, services)),
    })
}
