package config

// Admin configures the admin API, metrics and logging.
type Admin struct{}

func (c *Admin) check() error { return nil }
