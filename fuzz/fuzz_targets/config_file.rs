//! Any bytes as the `--config` TOML file and as the `--token-file`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = ghl_rankr::config::ConfigFile::parse(&text);
});
