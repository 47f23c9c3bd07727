"""The CA's paper route for what the client cannot do online.

An expired certificate is renewed only with the CA's paper form (the Dongguan
guide: tick 更新续期, 1–5 years, 200 CNY a year per certificate and again per
seal, send the key back with the papers); unlock, reissue, change and revoke
are paper services too.  Everything CA-specific comes from the driver
manifest (``[support]`` and ``[renewal]``); this module only arranges it.
"""

from __future__ import annotations

from dataclasses import dataclass

from zhenglian.manifest import Manifest

# The services of the CA's 机构数字证书申请表 and what each one is called.
SERVICES: dict[str, tuple[str, str]] = {
    "renew": ("更新续期", "renewal"),
    "unlock": ("解锁", "unlock"),
    "reissue": ("补办", "reissue"),
    "change": ("变更", "change"),
    "revoke": ("注销", "revoke"),
}
# Services for which the CA wants the key itself back with the papers (the guide says so).
KEY_RETURNED = {"renew", "unlock", "change"}


@dataclass(frozen=True)
class PaperRoute:
    """Facts for the expiry prompt and the forms, from one CA manifest."""

    ca_name_zh: str
    ca_name_en: str
    ca_full_name_zh: str
    fee_cert_per_year: int  # CNY; 0 = not known
    fee_seal_per_year: int
    years: tuple[int, int]
    seals: int
    mail_to_zh: str
    counter_zh: str
    hours_zh: str
    hours_en: str
    hotline: tuple[str, ...]
    qq: str
    website: str

    def fee_for(self, years: int) -> int | None:
        """What a paper renewal of ``years`` costs (certificate plus each seal), if the fees are known."""
        if not self.fee_cert_per_year:
            return None
        return years * (self.fee_cert_per_year + self.seals * self.fee_seal_per_year)

    def lines_zh(self) -> list[str]:
        lo, hi = self.years
        out = [f"证书过期后不能在线续期，须向{self.ca_name_zh}提交纸质申请：填写《机构数字证书申请表》并勾选“更新续期”，"
               f"选择年限（{lo}–{hi} 年），连同《电子印章申请表》、营业执照复印件、经办人身份证复印件（均加盖公章）和原 UKey 一并办理。"]
        if self.fee_cert_per_year:
            out.append(f"费用：证书 {self.fee_cert_per_year} 元/年/个，电子印章 {self.fee_seal_per_year} 元/年/个"
                       + (f"（本证书 {self.seals} 个印章，续期 3 年共 {self.fee_for(3)} 元）" if self.seals else "") + "。")
        else:
            out.append("费用请向 CA 咨询。")
        if self.mail_to_zh:
            out.append(f"邮寄办理：寄至 {self.mail_to_zh}。")
        if self.counter_zh:
            out.append(f"现场办理：{self.counter_zh}" + (f"，{self.hours_zh}" if self.hours_zh else "") + "。")
        contact = []
        if self.hotline:
            contact.append("热线 " + " / ".join(self.hotline))
        if self.qq:
            contact.append(f"QQ {self.qq}")
        if self.website:
            contact.append(self.website)
        if contact:
            out.append("咨询：" + "，".join(contact) + "。")
        out.append("电子印章与证书同时失效，续期后随证书恢复。")
        return out

    def lines_en(self) -> list[str]:
        lo, hi = self.years
        out = [f"An expired certificate cannot be renewed online. {self.ca_name_en} renews it on paper: fill in the "
               f"certificate application form, tick 更新续期 (renewal), choose {lo}–{hi} years, and hand it in with the "
               "seal application form, copies of the business licence and the operator's ID (stamped), and the key."]
        if self.fee_cert_per_year:
            out.append(f"Fee: {self.fee_cert_per_year} CNY per year per certificate, {self.fee_seal_per_year} CNY per "
                       "year per seal.")
        else:
            out.append("Ask the CA for the fee.")
        if self.counter_zh:
            out.append(f"Counter: {self.counter_zh}" + (f", {self.hours_en}" if self.hours_en else "") + ".")
        if self.hotline:
            out.append("Hotline: " + " / ".join(self.hotline) + ".")
        out.append("The seal expired with the certificate and comes back with the renewal.")
        return out


def paper_route(manifest: Manifest | None, seals: int = 1) -> PaperRoute:
    """The paper route of this CA (an unknown CA gives a route with blanks)."""
    if manifest is None:
        return PaperRoute("签发证书的 CA", "the issuing CA", "", 0, 0, (1, 5), seals, "", "", "", "", (), "", "")
    s, r = manifest.support, manifest.renewal
    return PaperRoute(
        ca_name_zh=manifest.name_zh, ca_name_en=manifest.name_en,
        ca_full_name_zh=manifest.full_name_zh or manifest.name_zh,
        fee_cert_per_year=r.fee_cert_per_year, fee_seal_per_year=r.fee_seal_per_year, years=r.years,
        seals=seals, mail_to_zh=s.mail_to_zh, counter_zh=s.counter_zh, hours_zh=s.hours_zh,
        hours_en=s.hours_en, hotline=s.hotline, qq=s.qq, website=s.website,
    )
