// Independent judge for the tests: verifies every CMS signature of a PDF over
// its /ByteRange with BouncyCastle (SM2 signatures with the default ID
// 1234567812345678, which BouncyCastle's SM3withSM2 uses). One line per
// signature; exit 0 only when there is at least one and every one verifies.
import java.nio.charset.StandardCharsets;
import java.nio.file.*;
import java.security.Security;
import java.util.regex.*;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cms.*;
import org.bouncycastle.cms.jcajce.JcaSimpleSignerInfoVerifierBuilder;
import org.bouncycastle.jce.provider.BouncyCastleProvider;
import org.bouncycastle.util.encoders.Hex;

public class SM2PdfCheck {
    public static void main(String[] args) throws Exception {
        Security.addProvider(new BouncyCastleProvider());
        byte[] pdf = Files.readAllBytes(Paths.get(args[0]));
        String text = new String(pdf, StandardCharsets.ISO_8859_1);
        Matcher m = Pattern.compile("/ByteRange\\s*\\[\\s*(\\d+)\\s+(\\d+)\\s+(\\d+)\\s+(\\d+)\\s*\\]").matcher(text);
        int n = 0, bad = 0;
        while (m.find()) {
            n++;
            int a = Integer.parseInt(m.group(1)), b = Integer.parseInt(m.group(2));
            int c = Integer.parseInt(m.group(3)), d = Integer.parseInt(m.group(4));
            String hex = text.substring(a + b, c).trim();
            hex = hex.substring(1, hex.indexOf('>')).replaceAll("\\s", "");
            byte[] signed = new byte[b + d];
            System.arraycopy(pdf, a, signed, 0, b);
            System.arraycopy(pdf, c, signed, b, d);
            String verdict;
            try {
                CMSSignedData cms = new CMSSignedData(new CMSProcessableByteArray(signed), derPrefix(Hex.decode(hex)));
                verdict = "OK";
                for (SignerInformation si : cms.getSignerInfos().getSigners()) {
                    X509CertificateHolder cert = (X509CertificateHolder) cms.getCertificates().getMatches(si.getSID()).iterator().next();
                    boolean ok = si.verify(new JcaSimpleSignerInfoVerifierBuilder().setProvider("BC").build(cert));
                    verdict = (ok ? "OK" : "FAIL") + " digest=" + si.getDigestAlgOID() + " sig=" + si.getEncryptionAlgOID()
                            + " signer=" + cert.getSubject();
                    if (!ok) break;
                }
            } catch (Exception e) {
                verdict = "FAIL " + e.getClass().getSimpleName() + ": " + e.getMessage();
            }
            if (!verdict.startsWith("OK")) bad++;
            System.out.println("signature " + n + ": " + verdict);
        }
        if (n == 0) System.out.println("no signatures");
        System.exit(n > 0 && bad == 0 ? 0 : 1);
    }

    // The CMS inside /Contents is padded with zero bytes; cut it at the length its DER header
    // gives (stripping trailing "00" would also cut a signature whose last byte is 0x00).
    static byte[] derPrefix(byte[] b) {
        if (b.length < 2 || b[0] != 0x30) return b;
        int len = b[1] & 0xff, head = 2;
        if (len == 0x80) return b;  // indefinite length: not DER
        if (len > 0x80) {
            int k = len & 0x7f;
            if (k > 4 || 2 + k > b.length) return b;
            len = 0;
            for (int i = 0; i < k; i++) len = (len << 8) | (b[2 + i] & 0xff);
            head = 2 + k;
        }
        if (len < 0 || head + len > b.length) return b;
        return java.util.Arrays.copyOf(b, head + len);
    }
}
