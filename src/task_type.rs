//! The six task types (phases) of an okstra run: the one list the wizard offers, the report
//! checks and the collector's phase come from.

/// A task type; [`TaskType::as_str`] is its name on disk, in reports and on the CLI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskType {
    RequirementsDiscovery,
    ErrorAnalysis,
    ImplementationPlanning,
    Implementation,
    FinalVerification,
    ReleaseHandoff,
}

impl TaskType {
    /// Every task type, in run order.
    pub const ALL: [TaskType; 6] = [
        TaskType::RequirementsDiscovery,
        TaskType::ErrorAnalysis,
        TaskType::ImplementationPlanning,
        TaskType::Implementation,
        TaskType::FinalVerification,
        TaskType::ReleaseHandoff,
    ];

    /// The names of [`TaskType::ALL`], in the same order.
    pub const NAMES: [&'static str; 6] = [
        TaskType::RequirementsDiscovery.as_str(),
        TaskType::ErrorAnalysis.as_str(),
        TaskType::ImplementationPlanning.as_str(),
        TaskType::Implementation.as_str(),
        TaskType::FinalVerification.as_str(),
        TaskType::ReleaseHandoff.as_str(),
    ];

    /// The serialized name (`final-verification`, …).
    pub const fn as_str(self) -> &'static str {
        match self {
            TaskType::RequirementsDiscovery => "requirements-discovery",
            TaskType::ErrorAnalysis => "error-analysis",
            TaskType::ImplementationPlanning => "implementation-planning",
            TaskType::Implementation => "implementation",
            TaskType::FinalVerification => "final-verification",
            TaskType::ReleaseHandoff => "release-handoff",
        }
    }

    /// The task type named `name` exactly, if any.
    pub fn parse(name: &str) -> Option<TaskType> {
        TaskType::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

impl std::fmt::Display for TaskType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_in_order() {
        for (t, n) in TaskType::ALL.into_iter().zip(TaskType::NAMES) {
            assert_eq!(t.as_str(), n);
            assert_eq!(TaskType::parse(n), Some(t));
        }
        assert_eq!(TaskType::parse("Implementation"), None);
    }
}
