/** Loopback (127.0.0.0/8, ::1, or 127.x written as an IPv4-mapped IPv6 address)? */
export function isLoopbackAddress(address: string): boolean {
  return address === '::1' || /^(?:::ffff:)?127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/i.test(address);
}
