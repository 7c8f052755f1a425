//! `loyalty-segment [serve|migrate] [--config FILE]`
fn main() -> std::process::ExitCode {
    loyalty_platform::service_main::run(loyalty_platform::service_main::ServiceSpec {
        name: loyalty_segment::NAME,
        migrations: loyalty_segment::migrations,
        register: |settings, services| Box::pin(loyalty_segment::register(settings, services)),
    })
}
