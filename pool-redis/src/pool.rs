//! The pool types of a single-server pool, by deadpool-redis's names.

use crate::config_error::ConfigError;
use crate::connection::Connection;
use crate::manager::Manager;

pool_aliases!(Manager, Connection, ConfigError);
