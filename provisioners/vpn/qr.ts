// A device's profile as a QR code, which the WireGuard mobile apps scan. The code holds
// the private key like the file does: the same care applies to every rendering of it.
import QRCode from "qrcode";

// A profile is about 350 bytes: level M keeps the code small enough for a phone screen
// or a printout to be scanned at arm's length, while tolerating some damage.
const OPTIONS = { errorCorrectionLevel: "M" } as const;

export interface PeerQrCode {
  png: Buffer;
  svg: string;
  /** For an admin handing a phone its profile from a terminal (then cleared). */
  terminal: string;
}

/** A code as an SVG element, for a page (the welcome sheets' addresses as well). */
export const qrSvg = (text: string): Promise<string> => QRCode.toString(text, { ...OPTIONS, type: "svg", margin: 4 });

export async function peerQrCode(profile: string): Promise<PeerQrCode> {
  const [png, svg, terminal] = await Promise.all([
    QRCode.toBuffer(profile, { ...OPTIONS, type: "png", scale: 6, margin: 4 }),
    qrSvg(profile),
    QRCode.toString(profile, { ...OPTIONS, type: "terminal", small: true }),
  ]);
  return { png, svg, terminal };
}
