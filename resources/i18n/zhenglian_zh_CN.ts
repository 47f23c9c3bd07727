<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="zh_CN">
<context>
    <name>AppsView</name>
    <message>
        <source>Address of a government system, e.g. dggjj.dg.gov.cn</source>
        <translation>政务系统网址，例如 dggjj.dg.gov.cn</translation>
    </message>
    <message>
        <source>Open</source>
        <translation>打开</translation>
    </message>
    <message>
        <source>Not a web address (http or https).</source>
        <translation>不是有效的网址（http 或 https）。</translation>
    </message>
</context>
<context>
    <name>BridgeUi</name>
    <message>
        <source>Signing request from a web page</source>
        <translation>网页的签署请求</translation>
    </message>
    <message>
        <source>The web page %1 asks to seal a document with your key.

First the key logs in to the signing server %2 (the PIN is asked next); then the document is shown for you to confirm. Nothing is signed yet.</source>
        <translation>网页 %1 请求用您的 UKey 盖章签署一份文件。

需先用 UKey 登录签署服务器 %2（接下来输入 PIN），随后显示文件详情由您确认。目前尚未签署任何文件。</translation>
    </message>
    <message>
        <source>Continue</source>
        <translation>继续</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
    <message>
        <source>Signed, waiting to upload: %1</source>
        <translation>已签署，等待上传：%1</translation>
    </message>
    <message>
        <source>Signed and uploaded: %1</source>
        <translation>已签署并上传：%1</translation>
    </message>
    <message>
        <source>Web signing</source>
        <translation>网页签章</translation>
    </message>
    <message>
        <source>Web signing failed</source>
        <translation>网页签章失败</translation>
    </message>
    <message>
        <source>Web signing unavailable</source>
        <translation>网页签章不可用</translation>
    </message>
</context>
<context>
    <name>ChangePinDialog</name>
    <message>
        <source>Unlock with the SO PIN</source>
        <translation>用管理员 PIN 解锁</translation>
    </message>
    <message>
        <source>Change PIN</source>
        <translation>修改 PIN</translation>
    </message>
    <message>
        <source>SO PIN:</source>
        <translation>管理员 PIN（SO PIN）：</translation>
    </message>
    <message>
        <source>Current PIN:</source>
        <translation>当前 PIN：</translation>
    </message>
    <message>
        <source>New PIN:</source>
        <translation>新 PIN：</translation>
    </message>
    <message>
        <source>New PIN again:</source>
        <translation>再次输入新 PIN：</translation>
    </message>
    <message>
        <source>Caps Lock is on</source>
        <translation>大写锁定已打开</translation>
    </message>
    <message>
        <source>The new PIN needs:</source>
        <translation>新 PIN 须满足：</translation>
    </message>
    <message>
        <source>Unlock</source>
        <translation>解锁</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
</context>
<context>
    <name>ConfirmSignDialog</name>
    <message>
        <source>Signing request from a web page</source>
        <translation>网页签章请求</translation>
    </message>
    <message>
        <source>A web page asks zhenglian to seal a document with your key.</source>
        <translation>有网页请求证联用您的 UKey 为文件签章。</translation>
    </message>
    <message>
        <source>Requesting site:</source>
        <translation>请求的网站：</translation>
    </message>
    <message>
        <source>Signing server:</source>
        <translation>签署服务器：</translation>
    </message>
    <message>
        <source>Document:</source>
        <translation>文件：</translation>
    </message>
    <message>
        <source>File:</source>
        <translation>文件名：</translation>
    </message>
    <message>
        <source>Business type:</source>
        <translation>业务类型：</translation>
    </message>
    <message>
        <source>Institution:</source>
        <translation>机构：</translation>
    </message>
    <message>
        <source>Seal:</source>
        <translation>印章：</translation>
    </message>
    <message>
        <source>Unknown CA</source>
        <translation>未知 CA</translation>
    </message>
    <message>
        <source>Key:</source>
        <translation>UKey：</translation>
    </message>
    <message>
        <source>Confirm only if you started this signing on that site just now.</source>
        <translation>仅当您刚刚在该网站上发起了这次签章时才确认。</translation>
    </message>
    <message>
        <source>The key is already logged in for this request (its PIN was entered a moment ago): Confirm seal signs the document at once, the PIN is not asked again.</source>
        <translation>UKey 已登录（本次请求刚才已输入 PIN）：点击“确认签章”将立即签章，不会再次询问 PIN。</translation>
    </message>
    <message>
        <source>Confirm seal does not sign yet: the key&apos;s PIN is asked next.</source>
        <translation>点击“确认签章”后还不会签章：接下来会询问 UKey 的 PIN。</translation>
    </message>
    <message>
        <source>Confirm seal</source>
        <translation>确认签章</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
</context>
<context>
    <name>DeliberateDialog</name>
    <message>
        <source>Cancelled automatically in %1 s if not answered.</source>
        <translation>若不作答，%1 秒后自动取消。</translation>
    </message>
</context>
<context>
    <name>Diagnostics</name>
    <message>
        <source>locked</source>
        <translation>已锁定</translation>
    </message>
    <message>
        <source>one try left</source>
        <translation>仅剩最后一次</translation>
    </message>
    <message>
        <source>wrong PIN entered before</source>
        <translation>曾输错 PIN</translation>
    </message>
    <message>
        <source>to be changed</source>
        <translation>需修改</translation>
    </message>
    <message>
        <source>normal</source>
        <translation>正常</translation>
    </message>
    <message>
        <source>zhenglian {v} — {os}, Python {py}</source>
        <translation>证联 {v} — {os}，Python {py}</translation>
    </message>
    <message>
        <source>Drivers:</source>
        <translation>驱动：</translation>
    </message>
    <message>
        <source>found</source>
        <translation>已找到</translation>
    </message>
    <message>
        <source>missing</source>
        <translation>未找到</translation>
    </message>
    <message>
        <source>  {name}: {state}; {n} keys</source>
        <translation>  {name}：{state}；{n} 个 UKey</translation>
    </message>
    <message>
        <source>  driver file {path}: {state}</source>
        <translation>  驱动文件 {path}：{state}</translation>
    </message>
    <message>
        <source>loaded</source>
        <translation>已加载</translation>
    </message>
    <message>
        <source>  {name}: {state}; {n} key</source>
        <translation>  {name}：{state}；{n} 个 UKey</translation>
    </message>
    <message>
        <source>not loaded</source>
        <translation>未加载</translation>
    </message>
    <message>
        <source>failed</source>
        <translation>加载失败</translation>
    </message>
    <message>
        <source>  driver description error: {m}</source>
        <translation>  驱动说明文件有误：{m}</translation>
    </message>
    <message>
        <source>Keys:</source>
        <translation>UKey：</translation>
    </message>
    <message>
        <source>  {ca} {label} serial {serial} {org} PIN {state}</source>
        <translation>  {ca} {label} 序列号 {serial} {org} PIN {state}</translation>
    </message>
    <message>
        <source>  none</source>
        <translation>  无</translation>
    </message>
    <message>
        <source>USB devices: {list}</source>
        <translation>USB 设备：{list}</translation>
    </message>
    <message>
        <source>none</source>
        <translation>无</translation>
    </message>
    <message>
        <source>Preset by the installer:</source>
        <translation>安装程序预设：</translation>
    </message>
    <message>
        <source>signing server</source>
        <translation>签署服务器</translation>
    </message>
    <message>
        <source>timestamp server</source>
        <translation>时间戳服务器</translation>
    </message>
    <message>
        <source>renewal server</source>
        <translation>证书续期服务器</translation>
    </message>
    <message>
        <source>skipped {file}: {problem}</source>
        <translation>已跳过 {file}：{problem}</translation>
    </message>
    <message>
        <source>Folders:</source>
        <translation>文件夹：</translation>
    </message>
    <message>
        <source>data</source>
        <translation>数据</translation>
    </message>
    <message>
        <source>settings</source>
        <translation>设置</translation>
    </message>
    <message>
        <source>logs</source>
        <translation>日志</translation>
    </message>
    <message>
        <source>drivers</source>
        <translation>驱动</translation>
    </message>
    <message>
        <source>added drivers</source>
        <translation>自行添加的驱动清单</translation>
    </message>
    <message>
        <source>resources</source>
        <translation>资源</translation>
    </message>
    <message>
        <source>Recent errors:</source>
        <translation>最近的错误：</translation>
    </message>
</context>
<context>
    <name>DiagnosticsView</name>
    <message>
        <source>What the support desk needs to know. Contains no PIN and no document.</source>
        <translation>技术支持所需的信息。不含 PIN，也不含任何文件内容。</translation>
    </message>
    <message>
        <source>Refresh</source>
        <translation>刷新</translation>
    </message>
    <message>
        <source>Copy for support</source>
        <translation>复制给技术支持</translation>
    </message>
</context>
<context>
    <name>DocumentPreview</name>
    <message>
        <source>Fit</source>
        <translation>适合窗口</translation>
    </message>
    <message>
        <source>Page {n} of {total} · {w:.0f} × {h:.0f} mm</source>
        <translation>第 {n} 页，共 {total} 页 · {w:.0f} × {h:.0f} 毫米</translation>
    </message>
    <message>
        <source>Page {n} of {total}</source>
        <translation>第 {n} 页，共 {total} 页</translation>
    </message>
</context>
<context>
    <name>DocumentsView</name>
    <message>
        <source>Open PDF…</source>
        <translation>打开 PDF…</translation>
    </message>
    <message>
        <source>Drop a PDF here, or open one, to check its signatures.</source>
        <translation>把 PDF 拖到这里或打开一个 PDF，即可验证其中的签名。</translation>
    </message>
    <message>
        <source>Sign this document…</source>
        <translation>在此文件上盖章…</translation>
    </message>
    <message>
        <source>Drag the seal where it belongs, then sign.</source>
        <translation>把印章拖到要盖章的位置，然后签章。</translation>
    </message>
    <message>
        <source>Sign and save</source>
        <translation>签章并保存</translation>
    </message>
    <message>
        <source>Save as</source>
        <translation>另存为</translation>
    </message>
    <message>
        <source>Open PDF</source>
        <translation>打开 PDF</translation>
    </message>
    <message>
        <source>PDF documents (*.pdf)</source>
        <translation>PDF 文件 (*.pdf)</translation>
    </message>
    <message>
        <source>Checking…</source>
        <translation>正在验证…</translation>
    </message>
    <message>
        <source>Password</source>
        <translation>密码</translation>
    </message>
    <message>
        <source>This PDF is encrypted. Its password:</source>
        <translation>此 PDF 已加密，请输入文档密码：</translation>
    </message>
    <message>
        <source>&lt;p&gt;This document has no signature.&lt;/p&gt;</source>
        <translation>&lt;p&gt;此文件没有签名。&lt;/p&gt;</translation>
    </message>
    <message>
        <source>valid</source>
        <translation>有效</translation>
    </message>
    <message>
        <source>valid, but the signer&apos;s CA is not trusted</source>
        <translation>签名完好，但签发证书的 CA 不受信任</translation>
    </message>
    <message>
        <source>changed after signing</source>
        <translation>签名后被改动</translation>
    </message>
    <message>
        <source>INVALID</source>
        <translation>无效</translation>
    </message>
    <message>
        <source>the signed content was altered</source>
        <translation>签名后文件内容被篡改</translation>
    </message>
    <message>
        <source>the signature does not match the signer&apos;s certificate</source>
        <translation>签名值与签名证书不符</translation>
    </message>
    <message>
        <source>it uses an algorithm too weak to rely on (such as SHA-1)</source>
        <translation>使用了已不安全的算法（如 SHA-1）</translation>
    </message>
    <message>
        <source>the signer&apos;s certificate is revoked</source>
        <translation>签名证书已被吊销</translation>
    </message>
    <message>
        <source>the signature does not cover the whole document</source>
        <translation>签名未覆盖完整的文件</translation>
    </message>
    <message>
        <source>the signature cannot be read</source>
        <translation>签名数据无法读取</translation>
    </message>
    <message>
        <source>the document was changed in a way this signature does not allow</source>
        <translation>签名后文件有该签名不允许的改动</translation>
    </message>
    <message>
        <source>the certificate does not lead to a trusted root certificate</source>
        <translation>证书无法追溯到受信任的根证书</translation>
    </message>
    <message>
        <source>the signer&apos;s certificate has expired</source>
        <translation>签名证书已过期</translation>
    </message>
    <message>
        <source>the signer&apos;s certificate is not yet valid</source>
        <translation>签名证书尚未生效</translation>
    </message>
    <message>
        <source>the certificate chain could not be checked</source>
        <translation>证书链无法验证</translation>
    </message>
    <message>
        <source>Seal</source>
        <translation>印章</translation>
    </message>
    <message>
        <source>Organisation</source>
        <translation>单位</translation>
    </message>
    <message>
        <source>Unified social credit code</source>
        <translation>统一社会信用代码</translation>
    </message>
    <message>
        <source>Signed at</source>
        <translation>签署时间</translation>
    </message>
    <message>
        <source>Timestamp</source>
        <translation>时间戳</translation>
    </message>
    <message>
        <source>yes</source>
        <translation>有</translation>
    </message>
    <message>
        <source>no</source>
        <translation>无</translation>
    </message>
    <message>
        <source>Changed after signing</source>
        <translation>签名后改动</translation>
    </message>
    <message>
        <source>Why</source>
        <translation>原因</translation>
    </message>
    <message>
        <source>Signature {n}:</source>
        <translation>签名 {n}：</translation>
    </message>
    <message>
        <source>{stem}-sealed.pdf</source>
        <translation>{stem}-已盖章.pdf</translation>
    </message>
    <message>
        <source>zhenglian</source>
        <translation>证联客户端</translation>
    </message>
    <message>
        <source>Choose another file name: the original stays untouched.</source>
        <translation>请换一个文件名：原文件保持不变。</translation>
    </message>
    <message>
        <source>Document signed</source>
        <translation>文件已签章</translation>
    </message>
</context>
<context>
    <name>ErrorText</name>
    <message>
        <source>The operation did not finish: the program ran into an unexpected problem. The details are in the log.</source>
        <translation>操作未完成：程序遇到了意外的问题，详细信息已写入日志。</translation>
    </message>
    <message>
        <source>Try again. If it happens again, copy the Diagnostics page for technical support.</source>
        <translation>请重试；如仍出现，请复制“诊断信息”页的内容发给技术支持。</translation>
    </message>
</context>
<context>
    <name>ExpiredDialog</name>
    <message>
        <source>Certificate expired</source>
        <translation>证书已过期</translation>
    </message>
    <message>
        <source>The certificate expired on {date}</source>
        <translation>证书已于 {date} 过期</translation>
    </message>
    <message>
        <source>The seal bound to it expired with it: documents can no longer be signed with this key. An expired certificate cannot be renewed online; {ca} renews it on paper:</source>
        <translation>与证书绑定的电子印章随之失效，这个 UKey 已不能签署文件。过期证书不能在线续期，须向{ca}提交纸质申请办理：</translation>
    </message>
    <message>
        <source>Make the renewal form (PDF)…</source>
        <translation>生成续期申请表（PDF）…</translation>
    </message>
    <message>
        <source>Close</source>
        <translation>关闭</translation>
    </message>
</context>
<context>
    <name>FinalTryDialog</name>
    <message>
        <source>Last try</source>
        <translation>最后一次机会</translation>
    </message>
    <message>
        <source>Only one try is left.</source>
        <translation>只剩最后一次尝试机会。</translation>
    </message>
    <message>
        <source>SO PIN</source>
        <translation>管理员 PIN</translation>
    </message>
    <message>
        <source>PIN</source>
        <translation>PIN 码</translation>
    </message>
    <message>
        <source>If this %1 is wrong too, the key locks. Only the CA can unlock it, at its counter and with a paper form.</source>
        <translation>如果这次 %1 仍然错误，UKey 将被锁定，只能携纸质申请表到 CA 服务网点解锁。</translation>
    </message>
    <message>
        <source>Make sure you have the right PIN before you go on.</source>
        <translation>请确认 PIN 无误后再继续。</translation>
    </message>
    <message>
        <source>I am sure, enter the PIN</source>
        <translation>我已确认，输入 PIN</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
</context>
<context>
    <name>KeyActions</name>
    <message>
        <source>zhenglian</source>
        <translation>证联客户端</translation>
    </message>
    <message>
        <source>No key plugged in.</source>
        <translation>未插入 UKey。</translation>
    </message>
    <message>
        <source>Choose a key</source>
        <translation>选择 UKey</translation>
    </message>
    <message>
        <source>Key:</source>
        <translation>UKey：</translation>
    </message>
    <message>
        <source>PIN changed</source>
        <translation>PIN 已修改</translation>
    </message>
    <message>
        <source>Key unlocked</source>
        <translation>UKey 已解锁</translation>
    </message>
    <message>
        <source>Key locked</source>
        <translation>UKey 已锁定</translation>
    </message>
    <message>
        <source>Certificate renewed</source>
        <translation>证书已续期</translation>
    </message>
    <message>
        <source>Valid until {date}</source>
        <translation>有效期至 {date}</translation>
    </message>
    <message>
        <source>Seals</source>
        <translation>印章</translation>
    </message>
    <message>
        <source>No seal on this key or for this certificate.</source>
        <translation>此 UKey 上没有该证书的印章。</translation>
    </message>
    <message>
        <source>Renew certificate</source>
        <translation>证书续期</translation>
    </message>
    <message>
        <source>Plug in the key that holds this certificate, then choose Renew certificate in the tray menu.</source>
        <translation>请插入存有该证书的 UKey，然后在托盘菜单中选择“证书续期”。</translation>
    </message>
</context>
<context>
    <name>KeyCard</name>
    <message>
        <source>Unknown CA</source>
        <translation>未知 CA</translation>
    </message>
    <message>
        <source> (demo key)</source>
        <translation>（演示 UKey）</translation>
    </message>
    <message>
        <source>serial {serial}</source>
        <translation>序列号 {serial}</translation>
    </message>
    <message>
        <source>expired {n} days ago</source>
        <translation>已过期 {n} 天</translation>
    </message>
    <message>
        <source>expired {n} day ago</source>
        <translation>已过期 {n} 天</translation>
    </message>
    <message>
        <source>{n} days left</source>
        <translation>剩余 {n} 天</translation>
    </message>
    <message>
        <source>{n} day left</source>
        <translation>剩余 {n} 天</translation>
    </message>
    <message>
        <source>Unified social credit code</source>
        <translation>统一社会信用代码</translation>
    </message>
    <message>
        <source>Issuer</source>
        <translation>颁发者</translation>
    </message>
    <message>
        <source>Valid</source>
        <translation>有效期</translation>
    </message>
    <message>
        <source>Key</source>
        <translation>密钥</translation>
    </message>
    <message>
        <source>Certificate</source>
        <translation>证书</translation>
    </message>
    <message>
        <source>no signing certificate on this key</source>
        <translation>此 UKey 上没有签名证书</translation>
    </message>
    <message>
        <source>normal</source>
        <translation>正常</translation>
    </message>
    <message>
        <source>a wrong PIN was entered</source>
        <translation>曾输错 PIN</translation>
    </message>
    <message>
        <source>one try left</source>
        <translation>仅剩最后一次机会</translation>
    </message>
    <message>
        <source>locked</source>
        <translation>已锁定</translation>
    </message>
    <message>
        <source>must be changed</source>
        <translation>须修改</translation>
    </message>
    <message>
        <source>{n} tries left</source>
        <translation>还可尝试 {n} 次</translation>
    </message>
    <message>
        <source>{n} try left</source>
        <translation>还可尝试 {n} 次</translation>
    </message>
    <message>
        <source>PIN</source>
        <translation>PIN</translation>
    </message>
    <message>
        <source>SKF (GM/T 0016)</source>
        <translation>SKF（GM/T 0016）</translation>
    </message>
    <message>
        <source>PKCS#11</source>
        <translation>PKCS#11</translation>
    </message>
    <message>
        <source>Interface</source>
        <translation>接口</translation>
    </message>
    <message>
        <source>Change PIN</source>
        <translation>修改PIN</translation>
    </message>
    <message>
        <source>Renew</source>
        <translation>续期</translation>
    </message>
    <message>
        <source>Seals</source>
        <translation>印章</translation>
    </message>
    <message>
        <source>Unlock with the SO PIN</source>
        <translation>用管理员 PIN 解锁</translation>
    </message>
</context>
<context>
    <name>KeyHeader</name>
    <message>
        <source>Unknown CA</source>
        <translation>未知 CA</translation>
    </message>
    <message>
        <source>Organisation:</source>
        <translation>单位：</translation>
    </message>
    <message>
        <source>Issued by:</source>
        <translation>颁发机构：</translation>
    </message>
    <message>
        <source>Key serial:</source>
        <translation>UKey 序列号：</translation>
    </message>
</context>
<context>
    <name>KeysView</name>
    <message>
        <source>No key plugged in.
Plug in your UKey; it is recognised automatically.</source>
        <translation>未检测到 UKey。
请插入 UKey，证联会自动识别。</translation>
    </message>
</context>
<context>
    <name>LifecycleBanner</name>
    <message>
        <source>What to do</source>
        <translation>如何办理</translation>
    </message>
    <message>
        <source>Renew now</source>
        <translation>立即续期</translation>
    </message>
</context>
<context>
    <name>LifecycleText</name>
    <message>
        <source>the CA that issued it</source>
        <translation>签发证书的 CA</translation>
    </message>
    <message>
        <source>Certificate expired</source>
        <translation>证书已过期</translation>
    </message>
    <message>
        <source>The certificate of {org} expired on {date}; its seal expired with it.</source>
        <translation>{org}的证书已于 {date} 过期，电子印章随之失效。</translation>
    </message>
    <message>
        <source>Certificate expires in {days} days</source>
        <translation>证书将在 {days} 天后到期</translation>
    </message>
    <message>
        <source>The certificate of {org} expires on {date}. Renew it online while it is valid.</source>
        <translation>{org}的证书将于 {date} 到期，请在有效期内在线续期。</translation>
    </message>
    <message>
        <source>The certificate of {org} expired on {date}: its seal cannot be used. Renewal now needs the CA&apos;s paper form.</source>
        <translation>{org}的证书已于 {date} 过期，电子印章不能再使用。现在续期须向 CA 提交纸质申请表。</translation>
    </message>
    <message>
        <source>The certificate of {org} expires in {days} days ({date}); its seal expires with it.</source>
        <translation>{org}的证书将在 {days} 天后（{date}）到期，电子印章将随之失效。</translation>
    </message>
    <message>
        <source>Fill in the CA&apos;s certificate application form (机构数字证书申请表), tick 更新续期 (renewal) and choose {lo}–{hi} years. Add the seal application form (电子印章申请表) and copies of the business licence and of the operator&apos;s ID card, all stamped, and send the key back with the papers.</source>
        <translation>填写《机构数字证书申请表》，勾选“更新续期”并选择年限（{lo}–{hi} 年）；附《电子印章申请表》、营业执照复印件和经办人身份证复印件（均加盖单位公章），并将原 UKey 一并寄回或带到现场。</translation>
    </message>
    <message>
        <source>Fee: {cert} CNY a year for the certificate and {seal} CNY a year for each seal ({seals} seal(s): {total} CNY for 3 years).</source>
        <translation>费用：证书 {cert} 元/年/个，电子印章 {seal} 元/年/个（{seals} 个印章，续期 3 年共 {total} 元）。</translation>
    </message>
    <message>
        <source>Ask the CA for the fee.</source>
        <translation>费用请向 CA 咨询。</translation>
    </message>
    <message>
        <source>By post: {address}</source>
        <translation>邮寄办理：{address}</translation>
    </message>
    <message>
        <source>At the counter: {address}</source>
        <translation>现场办理：{address}</translation>
    </message>
    <message>
        <source>Hotline: {phones}</source>
        <translation>咨询热线：{phones}</translation>
    </message>
    <message>
        <source>Organisation</source>
        <translation>单位名称</translation>
    </message>
    <message>
        <source>USCC</source>
        <translation>统一社会信用代码</translation>
    </message>
    <message>
        <source>Issued by</source>
        <translation>签发 CA</translation>
    </message>
    <message>
        <source>Valid until</source>
        <translation>有效期至</translation>
    </message>
    <message>
        <source>Key serial</source>
        <translation>UKey 序列号</translation>
    </message>
    <message>
        <source>Seals</source>
        <translation>电子印章</translation>
    </message>
    <message>
        <source>renewal form</source>
        <translation>续期申请表</translation>
    </message>
    <message>
        <source>unlock form</source>
        <translation>解锁申请表</translation>
    </message>
    <message>
        <source>reissue form</source>
        <translation>补办申请表</translation>
    </message>
    <message>
        <source>change form</source>
        <translation>变更申请表</translation>
    </message>
    <message>
        <source>revocation form</source>
        <translation>注销申请表</translation>
    </message>
    <message>
        <source>Save the CA&apos;s {form}</source>
        <translation>保存{form}</translation>
    </message>
    <message>
        <source>PDF files (*.pdf)</source>
        <translation>PDF 文件 (*.pdf)</translation>
    </message>
    <message>
        <source>Could not make the form</source>
        <translation>无法生成申请表</translation>
    </message>
    <message>
        <source>Form saved</source>
        <translation>申请表已保存</translation>
    </message>
    <message>
        <source>Saved to {path}. Print it, fill in the blanks, sign and stamp it, and hand it to the CA.</source>
        <translation>已保存到 {path}。请打印，填写空白处，签字并加盖单位公章后交给 CA。</translation>
    </message>
</context>
<context>
    <name>LockedDialog</name>
    <message>
        <source>Key locked</source>
        <translation>UKey 已锁定</translation>
    </message>
    <message>
        <source>The SO (administrator) PIN of this key is locked.</source>
        <translation>此 UKey 的管理员 PIN（SO PIN）已锁定。</translation>
    </message>
    <message>
        <source>The PIN of this key is locked after too many wrong entries.</source>
        <translation>此 UKey 的 PIN 因连续输错次数过多已被锁定。</translation>
    </message>
    <message>
        <source>No PIN can be entered, and signing with this key is not possible.</source>
        <translation>现在不能再输入 PIN，也无法用此 UKey 签章。</translation>
    </message>
    <message>
        <source>How to unlock (free of charge, only the CA can do it):</source>
        <translation>解锁办法（免费，只能由 CA 办理）：</translation>
    </message>
    <message>
        <source>Generate unlock application form</source>
        <translation>生成解锁申请表</translation>
    </message>
    <message>
        <source>Close</source>
        <translation>关闭</translation>
    </message>
</context>
<context>
    <name>MainWindow</name>
    <message>
        <source>zhenglian</source>
        <translation>证联客户端</translation>
    </message>
    <message>
        <source>Keys</source>
        <translation>证书</translation>
    </message>
    <message>
        <source>To sign</source>
        <translation>待签署</translation>
    </message>
    <message>
        <source>Verify</source>
        <translation>签名验证</translation>
    </message>
    <message>
        <source>Seal register</source>
        <translation>用印登记</translation>
    </message>
    <message>
        <source>Applications</source>
        <translation>应用</translation>
    </message>
    <message>
        <source>Diagnostics</source>
        <translation>诊断信息</translation>
    </message>
</context>
<context>
    <name>PinContext</name>
    <message>
        <source>Seal documents with your PIN</source>
        <translation>输入 PIN 盖章签署</translation>
    </message>
    <message>
        <source>Log in to the signing server</source>
        <translation>登录签署服务器</translation>
    </message>
    <message>
        <source>The web page &lt;b&gt;{site}&lt;/b&gt; asks to seal {n} document(s):</source>
        <translation>网页 &lt;b&gt;{site}&lt;/b&gt; 请求盖章签署 {n} 个文件：</translation>
    </message>
    <message>
        <source>The PIN seals {n} document(s):</source>
        <translation>输入 PIN 后将盖章签署以下 {n} 个文件：</translation>
    </message>
    <message>
        <source>… {n} in all</source>
        <translation>…… 共 {n} 个</translation>
    </message>
    <message>
        <source>The web page &lt;b&gt;{site}&lt;/b&gt; asks to seal a document. First log in to the signing server {server} with the PIN; nothing is signed yet.</source>
        <translation>网页 &lt;b&gt;{site}&lt;/b&gt; 请求盖章签署文件。请先输入 PIN 登录签署服务器 {server}；此时尚未签署任何文件。</translation>
    </message>
    <message>
        <source>Log in to the signing server {server}; nothing is signed yet.</source>
        <translation>登录签署服务器 {server}；此时不签署任何文件。</translation>
    </message>
</context>
<context>
    <name>PinDialog</name>
    <message>
        <source>SO PIN (administrator)</source>
        <translation>管理员 PIN（SO PIN）</translation>
    </message>
    <message>
        <source>Enter PIN</source>
        <translation>输入 PIN</translation>
    </message>
    <message>
        <source>SO PIN:</source>
        <translation>管理员 PIN：</translation>
    </message>
    <message>
        <source>PIN:</source>
        <translation>PIN 码：</translation>
    </message>
    <message>
        <source>Caps Lock is on</source>
        <translation>大写锁定已打开</translation>
    </message>
    <message>
        <source>Keep the PIN for this batch (memory only)</source>
        <translation>本批文件沿用此 PIN（仅存于内存）</translation>
    </message>
    <message>
        <source>The PIN is sent only to the key; it is never saved.</source>
        <translation>PIN 只发送给 UKey，不会被保存。</translation>
    </message>
    <message>
        <source>OK</source>
        <translation>确定</translation>
    </message>
    <message>
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
    <message>
        <source>The PIN entered last time was wrong.</source>
        <translation>上次输入的 PIN 错误。</translation>
    </message>
</context>
<context>
    <name>PinPadDialog</name>
    <message>
        <source>Enter the PIN on the key</source>
        <translation>请在 UKey 上输入 PIN</translation>
    </message>
    <message>
        <source>Enter the PIN on the key&apos;s own PIN pad and confirm it there.</source>
        <translation>请在 UKey 自带的密码键盘上输入 PIN 并确认。</translation>
    </message>
    <message>
        <source>Waiting for the key… %1 s</source>
        <translation>正在等待 UKey…… %1 秒</translation>
    </message>
</context>
<context>
    <name>PinTexts</name>
    <message>
        <source>The SO PIN is locked.</source>
        <translation>管理员 PIN 已锁定。</translation>
    </message>
    <message>
        <source>The PIN is locked.</source>
        <translation>PIN 已锁定。</translation>
    </message>
    <message>
        <source>Last try: one more wrong PIN locks the key.</source>
        <translation>最后一次机会：再错一次 UKey 将被锁定。</translation>
    </message>
    <message>
        <source>%1 of %2 tries left</source>
        <translation>还可尝试 %1 次（共 %2 次）</translation>
    </message>
    <message>
        <source>At most %1 of %2 tries left</source>
        <translation>最多还可尝试 %1 次（共 %2 次）</translation>
    </message>
    <message>
        <source>About %1 of %2 tries left</source>
        <translation>约还可尝试 %1 次（共 %2 次）</translation>
    </message>
    <message>
        <source>At least %1 characters</source>
        <translation>至少 %1 位</translation>
    </message>
    <message>
        <source>At most %1 characters</source>
        <translation>不超过 %1 位</translation>
    </message>
    <message>
        <source>An upper-case letter</source>
        <translation>含大写字母</translation>
    </message>
    <message>
        <source>A lower-case letter</source>
        <translation>含小写字母</translation>
    </message>
    <message>
        <source>A digit</source>
        <translation>含数字</translation>
    </message>
    <message>
        <source>A special character (such as @#!)</source>
        <translation>含特殊字符（如 @#!）</translation>
    </message>
    <message>
        <source>Only letters, digits and common symbols</source>
        <translation>只含英文字母、数字和常用符号</translation>
    </message>
    <message>
        <source>Not one character repeated</source>
        <translation>不是同一字符重复</translation>
    </message>
    <message>
        <source>Not a simple sequence (like 12345678)</source>
        <translation>不是简单序列（如 12345678）</translation>
    </message>
    <message>
        <source>Not the factory PIN</source>
        <translation>不是出厂初始 PIN</translation>
    </message>
    <message>
        <source>Different from the current PIN</source>
        <translation>与当前 PIN 不同</translation>
    </message>
    <message>
        <source>Both entries of the new PIN match</source>
        <translation>两次输入的新 PIN 一致</translation>
    </message>
</context>
<context>
    <name>RegisterView</name>
    <message>
        <source>Every use of the seal on this computer: what was stamped, when, with which key, and what came of it. No PIN and no document contents are kept.</source>
        <translation>本机每一次用印：盖在哪份文件上、何时、用哪个 UKey、结果如何。不保存 PIN，也不保存文件内容。</translation>
    </message>
    <message>
        <source>Dates</source>
        <translation>日期</translation>
    </message>
    <message>
        <source>All outcomes</source>
        <translation>全部结果</translation>
    </message>
    <message>
        <source>Refresh</source>
        <translation>刷新</translation>
    </message>
    <message>
        <source>to</source>
        <translation>至</translation>
    </message>
    <message>
        <source>No.</source>
        <translation>序号</translation>
    </message>
    <message>
        <source>Time</source>
        <translation>时间</translation>
    </message>
    <message>
        <source>Outcome</source>
        <translation>结果</translation>
    </message>
    <message>
        <source>Seal</source>
        <translation>印章</translation>
    </message>
    <message>
        <source>Document</source>
        <translation>文件</translation>
    </message>
    <message>
        <source>Key</source>
        <translation>UKey</translation>
    </message>
    <message>
        <source>Came from</source>
        <translation>来源</translation>
    </message>
    <message>
        <source>Open signed file</source>
        <translation>打开签署后的文件</translation>
    </message>
    <message>
        <source>Export…</source>
        <translation>导出…</translation>
    </message>
    <message>
        <source>A printable PDF report for the seal custodian, or a CSV table, of the entries shown</source>
        <translation>把当前显示的登记导出为供印章管理员打印的 PDF 报告，或 CSV 表格</translation>
    </message>
    <message>
        <source>Checking the register…</source>
        <translation>正在核对用印登记…</translation>
    </message>
    <message>
        <source>Signed</source>
        <translation>已签署</translation>
    </message>
    <message>
        <source>Refused</source>
        <translation>已拒绝</translation>
    </message>
    <message>
        <source>Cancelled</source>
        <translation>已取消</translation>
    </message>
    <message>
        <source>Failed</source>
        <translation>失败</translation>
    </message>
    <message>
        <source>Signing task</source>
        <translation>签署任务</translation>
    </message>
    <message>
        <source>Web page</source>
        <translation>网页</translation>
    </message>
    <message>
        <source>Local file</source>
        <translation>本地文件</translation>
    </message>
    <message>
        <source>All keys</source>
        <translation>全部 UKey</translation>
    </message>
    <message>
        <source>All seals</source>
        <translation>全部印章</translation>
    </message>
    <message>
        <source>Damaged entry</source>
        <translation>条目已损坏</translation>
    </message>
    <message>
        <source>{n} entry</source>
        <translation>共 {n} 条</translation>
    </message>
    <message>
        <source>{n} entries</source>
        <translation>共 {n} 条</translation>
    </message>
    <message>
        <source>✔ Register intact: %1 entries; head no. %2, hash %3</source>
        <translation>✔ 用印登记完整：共 %1 条；链头第 %2 条，哈希 %3</translation>
    </message>
    <message>
        <source>the database file is damaged</source>
        <translation>数据库文件已损坏</translation>
    </message>
    <message>
        <source>✘ Register check failed: %1. Keep the file and tell the seal custodian.</source>
        <translation>✘ 用印登记核对未通过：%1。请保留该文件并告知印章管理员。</translation>
    </message>
    <message>
        <source>Entry %1 is damaged; see the chain check below.</source>
        <translation>第 %1 条已损坏，见下方的登记链核对。</translation>
    </message>
    <message>
        <source>page %1 at (%2, %3) mm</source>
        <translation>第 %1 页 (%2, %3) mm</translation>
    </message>
    <message>
        <source>Certificate: %1 (serial %2, USCC %3)</source>
        <translation>证书：%1（序列号 %2，统一社会信用代码 %3）</translation>
    </message>
    <message>
        <source>Document: %1 bytes, %2 pages; seal: %3</source>
        <translation>文件：%1 字节，%2 页；盖章位置：%3</translation>
    </message>
    <message>
        <source>SHA-256 in: %1</source>
        <translation>原文件 SHA-256：%1</translation>
    </message>
    <message>
        <source>SHA-256 signed: %1</source>
        <translation>签署后 SHA-256：%1</translation>
    </message>
    <message>
        <source>Computer user: %1; saved to: %2</source>
        <translation>电脑用户：%1；保存到：%2</translation>
    </message>
    <message>
        <source>Error code: %1</source>
        <translation>错误代码：%1</translation>
    </message>
    <message>
        <source>Entry hash: %1</source>
        <translation>条目哈希：%1</translation>
    </message>
    <message>
        <source>%1 is no longer the file that was signed (missing or changed since).</source>
        <translation>%1 已不是当初签署的文件（已被删除或改动）。</translation>
    </message>
    <message>
        <source>seal-register-{date}.pdf</source>
        <translation>用印登记-{date}.pdf</translation>
    </message>
    <message>
        <source>Export the seal register</source>
        <translation>导出用印登记</translation>
    </message>
    <message>
        <source>PDF report (*.pdf);;CSV table (*.csv)</source>
        <translation>PDF 报告 (*.pdf);;CSV 表格 (*.csv)</translation>
    </message>
    <message>
        <source>Saved %1</source>
        <translation>已保存 %1</translation>
    </message>
</context>
<context>
    <name>ReminderDialog</name>
    <message>
        <source>Certificate expires soon</source>
        <translation>证书即将到期</translation>
    </message>
    <message>
        <source>The certificate expires in {days} days</source>
        <translation>证书将在 {days} 天后到期</translation>
    </message>
    <message>
        <source>The seal bound to this certificate stops working when the certificate expires, on {date}. While it is valid, the certificate can be renewed online here, with the key plugged in: the new validity runs on from the old expiry. Once it has expired, renewal needs the CA&apos;s paper form and fee.</source>
        <translation>证书到期（{date}）后，与其绑定的电子印章将同时失效。在有效期内，插入 UKey 即可在本机在线续期，新的有效期从原到期日起顺延；过期后只能向 CA 提交纸质申请并缴费办理。</translation>
    </message>
    <message>
        <source>Renew now</source>
        <translation>立即续期</translation>
    </message>
    <message>
        <source>Remind me later</source>
        <translation>稍后提醒</translation>
    </message>
</context>
<context>
    <name>ScreenHints</name>
    <message>
        <source>The text &quot;{text}&quot; occurs {count} times in {path} (pages {pages}); the signing server must say which one to stamp.</source>
        <translation>文字“{text}”在 {path} 中出现 {count} 次（第 {pages} 页），需由签署服务器指明在哪一处盖章。</translation>
    </message>
    <message>
        <source>Several keys are plugged in: choose one in the list.</source>
        <translation>插入了多个 UKey，请在列表中选择一个。</translation>
    </message>
    <message>
        <source>The document has no such text where the seal should go (full-width and half-width brackets differ; scanned pages have no text). Ask the sender to check the task.</source>
        <translation>文件中没有应盖章处的文字（全角/半角括号不同；扫描页没有文字）。请联系发送方核对该任务。</translation>
    </message>
    <message>
        <source>Nothing was signed. Choose a PIN of your own in the window that opens now, then sign again.</source>
        <translation>未签署任何文件。请在随后打开的窗口中设置您自己的 PIN，然后再签署。</translation>
    </message>
    <message>
        <source>Make sure the PIN is right, then confirm the last try.</source>
        <translation>请确认 PIN 无误，再确认最后一次尝试。</translation>
    </message>
    <message>
        <source>Ask the CA to renew the certificate.</source>
        <translation>请联系 CA 办理证书续期。</translation>
    </message>
    <message>
        <source>Check the network and the timestamp server address in Settings.</source>
        <translation>请检查网络，以及设置中的时间戳服务器地址。</translation>
    </message>
    <message>
        <source>Enter the signing server&apos;s address in Settings.</source>
        <translation>请在设置中填写签署服务器地址。</translation>
    </message>
    <message>
        <source>Ask the sender for a document with an empty signature field for the seal.</source>
        <translation>请向发送方索取带有供盖章用的空白签名域的文件。</translation>
    </message>
    <message>
        <source>Ask the sender for a document with an empty signature field that earlier signatures do not lock.</source>
        <translation>请向发送方索取带有未被已有签名锁定的空白签名域的文件。</translation>
    </message>
    <message>
        <source>This document is protected by a password and cannot be signed here.</source>
        <translation>该文件设有打开密码，无法在此签署。</translation>
    </message>
    <message>
        <source>Unplug the key, plug it in again and try again. If it still fails, copy the Diagnostics page for technical support.</source>
        <translation>请拔下 UKey 重新插入后再试；如仍失败，请复制“诊断信息”页的内容发给技术支持。</translation>
    </message>
</context>
<context>
    <name>SettingsDialog</name>
    <message>
        <source>Settings</source>
        <translation>设置</translation>
    </message>
    <message>
        <source>Signing server</source>
        <translation>签署服务器</translation>
    </message>
    <message>
        <source>Start zhenglian when I log in</source>
        <translation>开机时启动证联客户端</translation>
    </message>
    <message>
        <source>Language</source>
        <translation>语言</translation>
    </message>
    <message>
        <source> ms</source>
        <translation> 毫秒</translation>
    </message>
    <message>
        <source>Check for keys every</source>
        <translation>检测 UKey 间隔</translation>
    </message>
    <message>
        <source> s</source>
        <translation> 秒</translation>
    </message>
    <message>
        <source>Check for new documents every</source>
        <translation>检查新文件间隔</translation>
    </message>
    <message>
        <source>Add driver file…</source>
        <translation>添加驱动文件…</translation>
    </message>
    <message>
        <source>Remove</source>
        <translation>移除</translation>
    </message>
    <message>
        <source>Extra PKCS#11 drivers</source>
        <translation>其他 PKCS#11 驱动</translation>
    </message>
    <message>
        <source>Errors only</source>
        <translation>仅错误</translation>
    </message>
    <message>
        <source>Warnings and errors</source>
        <translation>警告和错误</translation>
    </message>
    <message>
        <source>Normal</source>
        <translation>一般</translation>
    </message>
    <message>
        <source>Detailed (for technical support)</source>
        <translation>详细（供技术支持）</translation>
    </message>
    <message>
        <source>Log level</source>
        <translation>日志级别</translation>
    </message>
    <message>
        <source>After each batch, sign the seal register with the key</source>
        <translation>每批签署完成后，用 UKey 签署用印登记（锚定）</translation>
    </message>
    <message>
        <source>Binds the register to the seal itself, so removed entries at its end are detected (see the seal register page).</source>
        <translation>把用印登记与印章本身绑定，登记末尾的条目被删除也能发现（见“用印登记”页）。</translation>
    </message>
    <message>
        <source>A new language applies after restarting zhenglian.</source>
        <translation>更改语言后，重新启动证联客户端生效。</translation>
    </message>
    <message>
        <source>Preset by the installer for your institution.</source>
        <translation>由安装程序为本单位预设。</translation>
    </message>
    <message>
        <source>Your own address; the installer&apos;s preset is %1.</source>
        <translation>您自行设置的地址；安装程序的预设为 %1。</translation>
    </message>
    <message>
        <source>PKCS#11 driver file</source>
        <translation>PKCS#11 驱动文件</translation>
    </message>
    <message>
        <source>Driver files (*.dll *.so *.so.* *.dylib);;All files (*)</source>
        <translation>驱动文件 (*.dll *.so *.so.* *.dylib);;所有文件 (*)</translation>
    </message>
    <message>
        <source>The signing server must be an http(s) address.</source>
        <translation>签署服务器地址须以 http:// 或 https:// 开头。</translation>
    </message>
    <message>
        <source>The signing server must use https:// (plain http only for this computer).</source>
        <translation>签署服务器地址须以 https:// 开头（http 只可用于本机）。</translation>
    </message>
    <message>
        <source>Could not change start-up: {e}</source>
        <translation>无法更改开机启动：{e}</translation>
    </message>
</context>
<context>
    <name>TaskBoard</name>
    <message>
        <source>Plug in your key to see the documents waiting for your seal.</source>
        <translation>插入 UKey 后，这里显示等待盖章的文件。</translation>
    </message>
    <message>
        <source>No signing server is set: see Settings.</source>
        <translation>尚未设置签署服务器，请在“设置”中填写。</translation>
    </message>
    <message>
        <source>The signing server cannot be used: see Settings.</source>
        <translation>无法使用签署服务器，请查看设置。</translation>
    </message>
    <message>
        <source>Connecting to {server}…</source>
        <translation>正在连接 {server}…</translation>
    </message>
    <message>
        <source>This key&apos;s PIN is locked: unlock it on the Certificates page first.</source>
        <translation>此 UKey 的 PIN 已锁定，请先在“证书”页解锁。</translation>
    </message>
    <message>
        <source>{n} new documents to sign</source>
        <translation>{n} 个新的待签署文件</translation>
    </message>
    <message>
        <source>{n} new document to sign</source>
        <translation>{n} 个新的待签署文件</translation>
    </message>
</context>
<context>
    <name>TasksView</name>
    <message>
        <source>Log in</source>
        <translation>登录</translation>
    </message>
    <message>
        <source>Refresh</source>
        <translation>刷新</translation>
    </message>
    <message>
        <source>Key</source>
        <translation>UKey</translation>
    </message>
    <message>
        <source>To sign</source>
        <translation>待签署</translation>
    </message>
    <message>
        <source>Signed</source>
        <translation>已签署</translation>
    </message>
    <message>
        <source>Failed</source>
        <translation>失败</translation>
    </message>
    <message>
        <source>Search title or type…</source>
        <translation>搜索标题或业务类型…</translation>
    </message>
    <message>
        <source>Open signed file</source>
        <translation>打开已签文件</translation>
    </message>
    <message>
        <source>Save signed file as…</source>
        <translation>另存已签文件…</translation>
    </message>
    <message>
        <source>Document</source>
        <translation>文件</translation>
    </message>
    <message>
        <source>Type</source>
        <translation>业务类型</translation>
    </message>
    <message>
        <source>Seal</source>
        <translation>印章</translation>
    </message>
    <message>
        <source>Signed at</source>
        <translation>签署时间</translation>
    </message>
    <message>
        <source>Reason</source>
        <translation>原因</translation>
    </message>
    <message>
        <source>Deadline</source>
        <translation>截止时间</translation>
    </message>
    <message numerus="yes">
        <source>Sign all found (%n)</source>
        <translation>
            <numerusform>签署找到的全部（%n 个）</numerusform>
        </translation>
    </message>
    <message>
        <source>Showing the first {shown} of the {total} documents found. Sign these to see the next ones, or narrow the search. “Sign all found” signs all {total}.</source>
        <translation>仅显示找到的 {total} 个文件中的前 {shown} 个。签署这些后会显示后面的文件，也可缩小搜索范围。“签署找到的全部”会签署这 {total} 个文件。</translation>
    </message>
    <message>
        <source>Showing the first {shown} of {total} documents. Sign these to see the next ones, or search by title or type. “Sign all” signs all {all} waiting.</source>
        <translation>仅显示前 {shown} 个文件，共 {total} 个。签署这些后会显示后面的文件，也可按标题或业务类型搜索。“全部签署”会签署全部 {all} 个待签署文件。</translation>
    </message>
    <message>
        <source>Showing the first {shown} of {total} documents; search by title or type to find the others.</source>
        <translation>仅显示前 {shown} 个文件，共 {total} 个；按标题或业务类型搜索可找到其余文件。</translation>
    </message>
    <message>
        <source>Signed file, signed at {when}</source>
        <translation>已签署的文件，签署时间 {when}</translation>
    </message>
    <message>
        <source>document {i}</source>
        <translation>第 {i} 个文件</translation>
    </message>
    <message>
        <source>Signing {i} of {n}: {title}</source>
        <translation>正在签署第 {i}/{n} 个：{title}</translation>
    </message>
    <message>
        <source>Signed {i} of {n}: {title}</source>
        <translation>已签署第 {i}/{n} 个：{title}</translation>
    </message>
    <message>
        <source>Uploaded: {title}</source>
        <translation>已上传：{title}</translation>
    </message>
    <message>
        <source>Signed, will be uploaded later: {title}</source>
        <translation>已签署，稍后上传：{title}</translation>
    </message>
    <message>
        <source>Could not sign: {title}</source>
        <translation>未能签署：{title}</translation>
    </message>
    <message>
        <source>No longer waiting on the server: {title}</source>
        <translation>服务器上已不再待签：{title}</translation>
    </message>
    <message>
        <source>{s} of {n} signed, {u} uploaded</source>
        <translation>已签 {s}/{n}，已上传 {u}</translation>
    </message>
    <message>
        <source>Sign selected</source>
        <translation>签署所选</translation>
    </message>
    <message>
        <source>Sign all</source>
        <translation>全部签署</translation>
    </message>
    <message>
        <source>Plug in your key to see the documents waiting for your seal.</source>
        <translation>插入 UKey 后，这里显示等待盖章的文件。</translation>
    </message>
    <message>
        <source>Save the signed file</source>
        <translation>保存已签文件</translation>
    </message>
    <message>
        <source>PDF documents (*.pdf)</source>
        <translation>PDF 文件 (*.pdf)</translation>
    </message>
    <message>
        <source>Saved {path}</source>
        <translation>已保存到 {path}</translation>
    </message>
    <message>
        <source>Loading {title}…</source>
        <translation>正在载入 {title}…</translation>
    </message>
    <message>
        <source>page {p}</source>
        <translation>第 {p} 页</translation>
    </message>
    <message>
        <source>seal: {name}</source>
        <translation>印章：{name}</translation>
    </message>
    <message>
        <source>with a cross-page seal</source>
        <translation>加盖骑缝章</translation>
    </message>
    <message>
        <source>You may drag the seal to another place on this page.</source>
        <translation>可以把印章拖到本页的其他位置。</translation>
    </message>
    <message>
        <source>Signing…</source>
        <translation>正在签章…</translation>
    </message>
    <message>
        <source>Stop after this document</source>
        <translation>签完当前文件后停止</translation>
    </message>
    <message>
        <source>Signing</source>
        <translation>签章</translation>
    </message>
    <message>
        <source>Signing finished</source>
        <translation>签章完成</translation>
    </message>
    <message>
        <source>Signing needs attention</source>
        <translation>签章未全部完成</translation>
    </message>
    <message>
        <source>zhenglian</source>
        <translation>证联客户端</translation>
    </message>
</context>
<context>
    <name>Tray</name>
    <message>
        <source>Open zhenglian</source>
        <translation>打开证联客户端</translation>
    </message>
    <message>
        <source>Documents to sign ({n})</source>
        <translation>待签署文件 ({n})</translation>
    </message>
    <message>
        <source>Certificate details</source>
        <translation>证书信息</translation>
    </message>
    <message>
        <source>Change PIN</source>
        <translation>修改PIN</translation>
    </message>
    <message>
        <source>Renew certificate</source>
        <translation>证书续期</translation>
    </message>
    <message>
        <source>Diagnostics</source>
        <translation>诊断信息</translation>
    </message>
    <message>
        <source>Settings</source>
        <translation>设置</translation>
    </message>
    <message>
        <source>About</source>
        <translation>关于</translation>
    </message>
    <message>
        <source>Quit</source>
        <translation>退出</translation>
    </message>
    <message>
        <source>PIN locked: {who}</source>
        <translation>PIN 已锁定：{who}</translation>
    </message>
    <message>
        <source>Certificate expired: {who}</source>
        <translation>证书已过期：{who}</translation>
    </message>
    <message>
        <source>Certificate expires in {n} days: {who}</source>
        <translation>证书 {n} 天后到期：{who}</translation>
    </message>
    <message>
        <source>Key plugged in but its driver is missing</source>
        <translation>已插入 UKey，但未安装其驱动</translation>
    </message>
    <message>
        <source>zhenglian</source>
        <translation>证联客户端</translation>
    </message>
    <message>
        <source>No key plugged in</source>
        <translation>未插入 UKey</translation>
    </message>
    <message>
        <source>{n} documents to sign</source>
        <translation>{n} 个待签署文件</translation>
    </message>
    <message>
        <source>Key plugged in</source>
        <translation>UKey 已插入</translation>
    </message>
    <message>
        <source>Key removed</source>
        <translation>UKey 已拔出</translation>
    </message>
    <message>
        <source>Key not recognised</source>
        <translation>无法识别的 UKey</translation>
    </message>
</context>
<context>
    <name>TrayApp</name>
    <message>
        <source>zhenglian keeps running</source>
        <translation>证联客户端仍在运行</translation>
    </message>
    <message>
        <source>zhenglian is still in the tray. Use Quit in its menu to end it.</source>
        <translation>证联客户端仍在系统托盘中运行；要退出，请在托盘菜单中选择“退出”。</translation>
    </message>
    <message>
        <source>About zhenglian</source>
        <translation>关于证联客户端</translation>
    </message>
    <message>
        <source>&lt;b&gt;zhenglian {v}&lt;/b&gt;&lt;br&gt;Open-source e-seal client for SZCA, NETCA and GDCA keys.&lt;br&gt;Licence: Apache-2.0</source>
        <translation>&lt;b&gt;证联客户端 {v}&lt;/b&gt;&lt;br&gt;开源电子签章客户端，支持深圳CA、网证通、数安时代 UKey。&lt;br&gt;许可证：Apache-2.0</translation>
    </message>
    <message>
        <source>zhenglian is running</source>
        <translation>证联客户端已启动</translation>
    </message>
    <message>
        <source>zhenglian lives in the tray (the red seal icon): click it to open this window. Closing the window keeps it running; use Quit in its menu to end it.</source>
        <translation>证联客户端在系统托盘区运行（红色印章图标）：点击图标即可打开本窗口。关闭窗口后仍在后台运行；要退出请使用托盘菜单中的“退出”。</translation>
    </message>
    <message>
        <source>hotline {numbers}</source>
        <translation>热线 {numbers}</translation>
    </message>
    <message>
        <source>Support (keys, certificates, PIN unlock):</source>
        <translation>技术支持（UKey、证书、PIN 解锁）：</translation>
    </message>
    <message>
        <source>zhenglian</source>
        <translation>证联客户端</translation>
    </message>
</context>
<context>
    <name>UnrecognisedCard</name>
    <message>
        <source>Install the CA&apos;s driver or start its own client, then plug the key in again.</source>
        <translation>请安装该 CA 的驱动或启动其证书客户端，然后重新插入 UKey。</translation>
    </message>
    <message>
        <source>The key&apos;s SKF library is built for 32-bit programs and cannot be used by this 64-bit program. Ask the CA for a 64-bit driver or its PKCS#11 module.</source>
        <translation>该 UKey 的 SKF 库是 32 位程序用的，本程序（64 位）无法使用。请向 CA 索取 64 位驱动或其 PKCS#11 驱动。</translation>
    </message>
    <message>
        <source>Start {name}</source>
        <translation>启动{name}</translation>
    </message>
    <message>
        <source>Try again</source>
        <translation>重试</translation>
    </message>
</context>
</TS>
