//! What every side-by-side rounds example shares: its command line
//! (`[ROUNDS] [SECONDS] [TASKS,..] [OPERATION] [MORE..]`) and its loop (for
//! each task count, every contender once per round, then the table with
//! same-round ratios).

use std::time::Duration;

use crate::{RunResult, alternate_rounds, print_rounds};

/// The command line of a rounds example.
#[derive(Debug)]
pub struct RoundsArgs {
    /// Rounds per task count.
    pub rounds: usize,
    /// Seconds per contender per round.
    pub secs: f64,
    /// The task counts, each a table of its own.
    pub tasks: Vec<usize>,
    /// The operation's name, as given (the example parses it).
    pub operation: String,
    more: std::vec::IntoIter<String>,
}

impl RoundsArgs {
    /// Reads the process's arguments, with these defaults for the ones not
    /// given. Exits with a message naming a bad one.
    pub fn from_env(rounds: usize, secs: f64, tasks: &str, operation: &str) -> Self {
        Self::parse(std::env::args().skip(1), rounds, secs, tasks, operation)
    }

    fn parse(
        args: impl Iterator<Item = String>,
        rounds: usize,
        secs: f64,
        tasks: &str,
        operation: &str,
    ) -> Self {
        let mut args = args;
        let rounds = match args.next() {
            Some(v) => v.parse().unwrap_or_else(|_| bad("ROUNDS", &v)),
            None => rounds,
        };
        let secs = match args.next() {
            Some(v) => v.parse().unwrap_or_else(|_| bad("SECONDS", &v)),
            None => secs,
        };
        let tasks = args
            .next()
            .unwrap_or_else(|| tasks.to_owned())
            .split(',')
            .map(|t| t.parse().unwrap_or_else(|_| bad("TASKS", t)))
            .collect();
        let operation = args.next().unwrap_or_else(|| operation.to_owned());
        Self {
            rounds,
            secs,
            tasks,
            operation,
            more: args.collect::<Vec<_>>().into_iter(),
        }
    }

    /// How long each contender runs per round.
    pub fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.secs)
    }

    /// The next argument after the operation, if given.
    pub fn next_arg(&mut self) -> Option<String> {
        self.more.next()
    }

    /// The contenders of `all` whose name starts with one of the
    /// comma-separated prefixes of the next argument (all of them without
    /// one).
    pub fn contenders<C: Copy>(&mut self, all: &[C], name: impl Fn(C) -> &'static str) -> Vec<C> {
        let only: Option<Vec<String>> = self
            .next_arg()
            .map(|s| s.split(',').map(str::to_owned).collect());
        all.iter()
            .copied()
            .filter(|&c| {
                only.as_ref()
                    .is_none_or(|o| o.iter().any(|p| name(c).starts_with(p.as_str())))
            })
            .collect()
    }

    /// For each task count: every contender in `names` once per round
    /// (`run(contender, tasks)`), then the table headed by `title(tasks)`,
    /// with each contender's same-round ratio to each of `references`
    /// (index into `names`, label).
    pub fn run_and_print(
        &self,
        names: &[&str],
        references: &[(usize, &str)],
        title: impl Fn(usize) -> String,
        mut run: impl FnMut(usize, usize) -> RunResult,
    ) {
        for &n in &self.tasks {
            let results = alternate_rounds(names, self.rounds, |i| run(i, n));
            println!("{} ({} rounds x {} s)", title(n), self.rounds, self.secs);
            print_rounds(names, &results, references);
        }
    }
}

/// `(index in contenders, label)` for each of `wanted` that is among them.
pub fn references<'a, C: PartialEq>(
    contenders: &[C],
    wanted: impl IntoIterator<Item = (C, &'a str)>,
) -> Vec<(usize, &'a str)> {
    wanted
        .into_iter()
        .filter_map(|(r, label)| contenders.iter().position(|x| *x == r).map(|i| (i, label)))
        .collect()
}

fn bad(what: &str, value: &str) -> ! {
    eprintln!("{what}: {value:?} is not a valid value");
    std::process::exit(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> RoundsArgs {
        RoundsArgs::parse(v.iter().map(|s| (*s).to_owned()), 3, 2.0, "10,50", "get")
    }

    #[test]
    fn defaults_fill_what_is_not_given() {
        let a = args(&["5"]);
        assert_eq!((a.rounds, a.secs, a.tasks.clone()), (5, 2.0, vec![10, 50]));
        assert_eq!(a.operation, "get");
    }

    #[test]
    fn contenders_are_picked_by_prefix() {
        let mut a = args(&["1", "1", "1", "get", "de,on"]);
        let picked = a.contenders(&["deadpool", "one", "pool"], |c| c);
        assert_eq!(picked, vec!["deadpool", "one"]);
    }
}
