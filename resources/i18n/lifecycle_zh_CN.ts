<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="zh_CN">
<context>
    <name>ExpiredDialog</name>
    <message>
        <location filename="../../zhenglian/ui/lifecycle_dialogs.py" line="205"/>
        <source>Certificate expired</source>
        <translation>证书已过期</translation>
    </message>
    <message>
        <location filename="../../zhenglian/ui/lifecycle_dialogs.py" line="208"/>
        <source>The certificate expired on {date}</source>
        <translation>证书已于 {date} 过期</translation>
    </message>
    <message>
        <location filename="../../zhenglian/ui/lifecycle_dialogs.py" line="211"/>
        <source>The seal bound to it expired with it: documents can no longer be signed with this key. An expired certificate cannot be renewed online; {ca} renews it on paper:</source>
        <translation>与证书绑定的电子印章随之失效，这个 UKey 已不能签署文件。过期证书不能在线续期，须向{ca}提交纸质申请办理：</translation>
    </message>
    <message>
        <location filename="../../zhenglian/ui/lifecycle_dialogs.py" line="225"/>
        <source>Make the renewal form (PDF)…</source>
        <translation>生成续期申请表（PDF）…</translation>
    </message>
    <message>
        <location filename="../../zhenglian/ui/lifecycle_dialogs.py" line="228"/>
        <source>Close</source>
        <translation>关闭</translation>
    </message>
</context>
<context>
    <name>LifecycleBanner</name>
    <message>
        <location filename="../../zhenglian/ui/lifecycle_dialogs.py" line="255"/>
        <source>What to do</source>
        <translation>如何办理</translation>
    </message>
    <message>
        <location filename="../../zhenglian/ui/lifecycle_dialogs.py" line="255"/>
        <source>Renew now</source>
        <translation>立即续期</translation>
    </message>
</context>
<context>
    <name>LifecycleText</name>
    <message>
        <location filename="../../zhenglian/ui/lifecycle_dialogs.py" line="53"/>
        <source>the CA that issued it</source>
        <translation>签发证书的 CA</translation>
    </message>
    <message>
        <location filename="../../zhenglian/ui/lifecycle_dialogs.py" line="61"/>
        <source>Certificate expired</source>
        <translation>证书已过期</translation>
    </message>
    <message>
        <location filename="../../zhenglian/ui/lifecycle_dialogs.py" line="62"/>
        <source>The certificate of {org} expired on {date}; its seal expired with it.</source>
        <translation>{org}的证书已于 {date} 过期，电子印章随之失效。</translation>
    </message>
    <message>
        <location filename="../../zhenglian/ui/lifecycle_dialogs.py" line="64"/>
        <source>Certificate expires in {days} days</source>
        <translation>证书将在 {days} 天后到期</translation>
    </message>
    <message>
        <location filename="../../zhenglian/ui/lifecycle_dialogs.py" line="65"/>
        <source>The certificate of {org} expires on {date}. Renew it online while it is valid.</source>
        <translation>{org}的证书将于 {date} 到期，请在有效期内在线续期。</translation>
    </message>
    <message>
        <location filename="../../zhenglian/ui/lifecycle_dialogs.py" line="72"/>
        <source>The certificate of {org} expired on {date}: its seal cannot be used. Renewal now needs the CA&apos;s paper form.</source>
        <translation>{org}的证书已于 {date} 过期，电子印章不能再使用。现在续期须向 CA 提交纸质申请表。</translation>
    </message>
    <message>
        <location filename="../../zhenglian/ui/lifecycle_dialogs.py" line="74"/>
        <source>The certificate of {org} expires in {days} days ({date}); its seal expires with it.</source>
        <translation>{org}的证书将在 {days} 天后（{date}）到期，电子印章将随之失效。</translation>
    </message>
    <message>
        <location filename="../../zhenglian/ui/lifecycle_dialogs.py" line="81"/>
        <source>Fill in the CA&apos;s certificate application form (机构数字证书申请表), tick 更新续期 (renewal) and choose {lo}–{hi} years. Add the seal application form (电子印章申请表) and copies of the business licence and of the operator&apos;s ID card, all stamped, and send the key back with the papers.</source>
        <translation>填写《机构数字证书申请表》，勾选“更新续期”并选择年限（{lo}–{hi} 年）；附《电子印章申请表》、营业执照复印件和经办人身份证复印件（均加盖单位公章），并将原 UKey 一并寄回或带到现场。</translation>
    </message>
    <message>
        <location filename="../../zhenglian/ui/lifecycle_dialogs.py" line="86"/>
        <source>Fee: {cert} CNY a year for the certificate and {seal} CNY a year for each seal ({seals} seal(s): {total} CNY for 3 years).</source>
        <translation>费用：证书 {cert} 元/年/个，电子印章 {seal} 元/年/个（{seals} 个印章，续期 3 年共 {total} 元）。</translation>
    </message>
    <message>
        <location filename="../../zhenglian/ui/lifecycle_dialogs.py" line="91"/>
        <source>Ask the CA for the fee.</source>
        <translation>费用请向 CA 咨询。</translation>
    </message>
    <message>
        <location filename="../../zhenglian/ui/lifecycle_dialogs.py" line="93"/>
        <source>By post: {address}</source>
        <translation>邮寄办理：{address}</translation>
    </message>
    <message>
        <location filename="../../zhenglian/ui/lifecycle_dialogs.py" line="96"/>
        <source>At the counter: {address}</source>
        <translation>现场办理：{address}</translation>
    </message>
    <message>
        <location filename="../../zhenglian/ui/lifecycle_dialogs.py" line="100"/>
        <source>Hotline: {phones}</source>
        <translation>咨询热线：{phones}</translation>
    </message>
    <message>
        <location filename="../../zhenglian/ui/lifecycle_dialogs.py" line="123"/>
        <source>Organisation</source>
        <translation>单位名称</translation>
    </message>
    <message>
        <location filename="../../zhenglian/ui/lifecycle_dialogs.py" line="124"/>
        <source>USCC</source>
        <translation>统一社会信用代码</translation>
    </message>
    <message>
        <location filename="../../zhenglian/ui/lifecycle_dialogs.py" line="125"/>
        <source>Issued by</source>
        <translation>签发 CA</translation>
    </message>
    <message>
        <location filename="../../zhenglian/ui/lifecycle_dialogs.py" line="126"/>
        <source>Valid until</source>
        <translation>有效期至</translation>
    </message>
    <message>
        <location filename="../../zhenglian/ui/lifecycle_dialogs.py" line="127"/>
        <source>Key serial</source>
        <translation>UKey 序列号</translation>
    </message>
    <message>
        <location filename="../../zhenglian/ui/lifecycle_dialogs.py" line="130"/>
        <source>Seals</source>
        <translation>电子印章</translation>
    </message>
    <message>
        <location filename="../../zhenglian/ui/lifecycle_dialogs.py" line="275"/>
        <source>renewal form</source>
        <translation>续期申请表</translation>
    </message>
    <message>
        <location filename="../../zhenglian/ui/lifecycle_dialogs.py" line="275"/>
        <source>unlock form</source>
        <translation>解锁申请表</translation>
    </message>
    <message>
        <location filename="../../zhenglian/ui/lifecycle_dialogs.py" line="275"/>
        <source>reissue form</source>
        <translation>补办申请表</translation>
    </message>
    <message>
        <location filename="../../zhenglian/ui/lifecycle_dialogs.py" line="276"/>
        <source>change form</source>
        <translation>变更申请表</translation>
    </message>
    <message>
        <location filename="../../zhenglian/ui/lifecycle_dialogs.py" line="276"/>
        <source>revocation form</source>
        <translation>注销申请表</translation>
    </message>
    <message>
        <location filename="../../zhenglian/ui/lifecycle_dialogs.py" line="280"/>
        <source>Save the CA&apos;s {form}</source>
        <translation>保存{form}</translation>
    </message>
    <message>
        <location filename="../../zhenglian/ui/lifecycle_dialogs.py" line="280"/>
        <source>PDF files (*.pdf)</source>
        <translation>PDF 文件 (*.pdf)</translation>
    </message>
    <message>
        <location filename="../../zhenglian/ui/lifecycle_dialogs.py" line="286"/>
        <source>Could not make the form</source>
        <translation>无法生成申请表</translation>
    </message>
    <message>
        <location filename="../../zhenglian/ui/lifecycle_dialogs.py" line="288"/>
        <source>Form saved</source>
        <translation>申请表已保存</translation>
    </message>
    <message>
        <location filename="../../zhenglian/ui/lifecycle_dialogs.py" line="289"/>
        <source>Saved to {path}. Print it, fill in the blanks, sign and stamp it, and hand it to the CA.</source>
        <translation>已保存到 {path}。请打印，填写空白处，签字并加盖单位公章后交给 CA。</translation>
    </message>
</context>
<context>
    <name>ReminderDialog</name>
    <message>
        <location filename="../../zhenglian/ui/lifecycle_dialogs.py" line="149"/>
        <source>Certificate expires soon</source>
        <translation>证书即将到期</translation>
    </message>
    <message>
        <location filename="../../zhenglian/ui/lifecycle_dialogs.py" line="150"/>
        <source>The certificate expires in {days} days</source>
        <translation>证书将在 {days} 天后到期</translation>
    </message>
    <message>
        <location filename="../../zhenglian/ui/lifecycle_dialogs.py" line="153"/>
        <source>The seal bound to this certificate stops working when the certificate expires, on {date}. While it is valid, the certificate can be renewed online here, with the key plugged in: the new validity runs on from the old expiry. Once it has expired, renewal needs the CA&apos;s paper form and fee.</source>
        <translation>证书到期（{date}）后，与其绑定的电子印章将同时失效。在有效期内，插入 UKey 即可在本机在线续期，新的有效期从原到期日起顺延；过期后只能向 CA 提交纸质申请并缴费办理。</translation>
    </message>
    <message>
        <location filename="../../zhenglian/ui/lifecycle_dialogs.py" line="166"/>
        <source>Renew now</source>
        <translation>立即续期</translation>
    </message>
    <message>
        <location filename="../../zhenglian/ui/lifecycle_dialogs.py" line="167"/>
        <source>Remind me later</source>
        <translation>稍后提醒</translation>
    </message>
</context>
</TS>
