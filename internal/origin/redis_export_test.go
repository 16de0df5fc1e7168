package origin

// SplitRecord makes r record a learn-mode use in two script calls, as it
// does on Redis Cluster, so the single test server covers that path too.
func SplitRecord(r *Redis) { r.split = true }
