//! `loyalty-messaging [serve|migrate] [--config FILE]`
fn main() -> std::process::ExitCode {
    loyalty_platform::service_main::run(loyalty_platform::service_main::ServiceSpec {
        name: loyalty_messaging::NAME,
        migrations: loyalty_messaging::migrations,
        register: |settings, services| Box::pin(loyalty_messaging::register(settings, services)),
    })
}
