package app

// CheckSSFSigningKey reads the SSF transmitter's signing key file
// (ssf.transmitter.key_file) as Open does, for `provost config check`.
func CheckSSFSigningKey(path string) error {
	_, err := readSigningKey(path)
	return err
}

// CheckSSFHeaderFile reads an Authorization header file
// (ssf...authorization_file) as Open does, for `provost config check`. Its
// errors never repeat the value.
func CheckSSFHeaderFile(path string) error {
	_, err := readHeaderFile(path)
	return err
}
