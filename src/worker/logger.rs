//! Native logs, filtered by the worker's level and tags, carried to JS like mediasoup's
//! worker logs (`D`/`W`/`E` lines that the facade hands to the `debug` module).

use super::settings::{LogLevel, Settings};
use crate::channel::{Outgoing, Sink};

pub struct Logger {
    sink: Sink,
    level: LogLevel,
    tags: Vec<&'static str>,
}

impl Logger {
    pub fn new(sink: Sink, settings: &Settings) -> Self {
        Logger { sink, level: settings.log_level, tags: settings.log_tags.clone() }
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

    fn emit(&self, level: LogLevel, tag: Option<&str>, text: std::fmt::Arguments<'_>) {
        if self.level < level {
            return;
        }
        // Tagged debug/warn lines only with their tag enabled; errors always.
        if let Some(tag) = tag {
            if level != LogLevel::Error && !self.tags.contains(&tag) {
                return;
            }
        }
        let c = match level {
            LogLevel::Debug => 'D',
            LogLevel::Warn => 'W',
            _ => 'E',
        };
        (self.sink)(Outgoing::Log { level: c, text: text.to_string() });
    }

    pub fn debug(&self, tag: &str, text: std::fmt::Arguments<'_>) {
        self.emit(LogLevel::Debug, Some(tag), text)
    }
    pub fn warn(&self, tag: &str, text: std::fmt::Arguments<'_>) {
        self.emit(LogLevel::Warn, Some(tag), text)
    }
    pub fn error(&self, text: std::fmt::Arguments<'_>) {
        self.emit(LogLevel::Error, None, text)
    }
}
