//! Native logs, filtered by the worker's level and tags as mediasoup's worker filters them
//! (`D`/`W`/`E` lines that the facade hands to the `debug` module).

use crate::api::settings::{LogLevel, Settings};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLine {
    /// `D`, `W` or `E`.
    pub level: char,
    pub text: String,
}

pub struct Logger {
    level: LogLevel,
    tags: Vec<&'static str>,
}

impl Logger {
    pub fn new(settings: &Settings) -> Self {
        Logger { level: settings.log_level, tags: settings.log_tags.clone() }
    }

    pub fn update(&mut self, level: LogLevel, tags: Vec<&'static str>) {
        self.level = level;
        self.tags = tags;
    }

    pub fn level(&self) -> LogLevel {
        self.level
    }

    pub fn tags(&self) -> &[&'static str] {
        &self.tags
    }

    /// The line to emit at `level` for `tag` (`None`: an untagged error), if enabled. Tagged
    /// debug and warn lines need their tag enabled; errors always pass.
    pub fn line(&self, level: LogLevel, tag: Option<&str>, text: std::fmt::Arguments<'_>) -> Option<LogLine> {
        if self.level < level {
            return None;
        }
        if let Some(tag) = tag {
            if level != LogLevel::Error && !self.tags.contains(&tag) {
                return None;
            }
        }
        let c = match level {
            LogLevel::Debug => 'D',
            LogLevel::Warn => 'W',
            _ => 'E',
        };
        Some(LogLine { level: c, text: text.to_string() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_by_level_and_tag() {
        let mut l = Logger::new(&Settings::default());
        assert!(l.line(LogLevel::Debug, Some("info"), format_args!("x")).is_none());
        assert_eq!(l.line(LogLevel::Error, None, format_args!("boom")).unwrap().level, 'E');
        l.update(LogLevel::Debug, vec!["ice"]);
        assert!(l.line(LogLevel::Debug, Some("info"), format_args!("x")).is_none());
        assert_eq!(l.line(LogLevel::Debug, Some("ice"), format_args!("y")).unwrap().text, "y");
    }
}
