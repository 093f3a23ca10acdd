# Files the host tools write: private (0600, O_EXCL|O_NOFOLLOW temp file, atomic rename) and
# size-capped rotating logs. Shared by every room; imports nothing but host_tools.errors.
